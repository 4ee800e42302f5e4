"""The finance console in a real browser: a Billing Admin bills a customer end to end; a Finance
Viewer then opens the same pages and finds nothing that changes anything."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import requests
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from catalog.models import Charge, Plan
from customers.models import Customer
from customers.roles import BILLING_ADMIN, FINANCE_VIEWER
from invoicing.credits.inputs import CreditNoteCreate
from invoicing.credits.models import CreditNote
from invoicing.models import Invoice, InvoiceStatus
from subscriptions.models import Subscription
from tests.browser.conftest import SCREENSHOTS
from tests.factories.catalog import BillableMetricFactory
from tests.factories.customers import OrganizationFactory, api_key_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "1"},
    ]
}


def _staff(username: str, role: str) -> User:
    user = User.objects.create_user(username, password="pw-" + username, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-" + username)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def _run_action(page, base: str, changelist: str, object_id, action: str) -> None:
    page.goto(f"{base}{changelist}")
    page.check(f'input[name="_selected_action"][value="{object_id}"]')
    page.select_option('select[name="action"]', action)


def test_billing_admin_bills_a_customer_and_a_finance_viewer_changes_nothing(live_server, browser, shoot):
    base = live_server.url
    organization = OrganizationFactory(name="Browser Org")
    raw_key = api_key_for(organization)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {raw_key}"
    metric = BillableMetricFactory(organization=organization, code="api_calls", aggregation_type="count_agg")
    _staff("billing", BILLING_ADMIN)
    _staff("viewer", FINANCE_VIEWER)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()

    # 1. The Billing Admin logs in.
    _login(page, base, "billing")
    shoot(page, "01-billing-admin-home")

    # 2. A plan with a graduated charge, built in the admin's plan editor.
    page.goto(f"{base}/admin/catalog/plan/add/")
    page.select_option("#id_organization", str(organization.pk))
    page.fill("#id_name", "Browser Plan")
    page.fill("#id_code", "browser_plan")
    page.select_option("#id_interval", "monthly")
    page.fill("#id_amount", "10.00")
    page.fill("#id_amount_currency", "USD")
    page.click("#charges-group .add-row a")
    # The metric field is an autocomplete (select2); its underlying <select> takes the id.
    page.evaluate(
        """([id, label]) => {
            const select = document.querySelector('#id_charges-0-billable_metric');
            select.add(new Option(label, id, true, true));
            select.dispatchEvent(new Event('change', {bubbles: true}));
        }""",
        [str(metric.pk), metric.code],
    )
    page.select_option("#id_charges-0-charge_model", "graduated")
    # The tiers are a table (the JSON below it follows).
    editor = page.locator("#charges-0 .pricing-editor")
    for tier in GRADUATED["graduated_ranges"]:
        editor.locator("button.pricing-add").click()
        row = editor.locator("table tr").last
        assert row.locator('[data-field="from_value"]').input_value() == str(tier["from_value"])
        if tier["to_value"] is not None:
            row.locator('[data-field="to_value"]').fill(str(tier["to_value"]))
        row.locator('[data-field="per_unit_amount"]').fill(tier["per_unit_amount"])
        row.locator('[data-field="flat_amount"]').fill(tier["flat_amount"])
    assert json.loads(page.input_value("#id_charges-0-properties")) == GRADUATED
    shoot(page, "02-plan-editor-graduated-charge")
    page.click('input[name="_save"]')
    shoot(page, "03-plan-saved")
    plan = Plan.objects.get(organization=organization, code="browser_plan")
    charge = Charge.objects.get(plan=plan)
    assert charge.charge_model == "graduated"
    assert charge.properties["graduated_ranges"][1]["per_unit_amount"] == "0.5"
    assert plan.amount_cents == 1000

    # 3. A customer, created in the admin.
    page.goto(f"{base}/admin/customers/customer/add/")
    page.select_option("#id_organization", str(organization.pk))
    page.fill("#id_external_id", "cus_browser")
    page.fill("#id_name", "Browser Customer")
    page.fill("#id_currency", "USD")
    page.click('input[name="_save"]')
    shoot(page, "04-customer-saved")
    customer = Customer.objects.get(organization=organization, external_id="cus_browser")

    # 4. The subscription is started in the admin; its events arrive through the API.
    page.goto(f"{base}/admin/subscriptions/subscription/add/")
    page.select_option("#id_customer", str(customer.pk))
    page.select_option("#id_plan", str(plan.pk))
    page.fill("#id_external_id", "sub_browser")
    page.select_option("#id_billing_time", "calendar")
    # The first day of the month three months back, so the back-billing cap (12 periods) never refuses it.
    today = dt.datetime.now(dt.UTC).date().replace(day=1)
    start = (today - dt.timedelta(days=40)).replace(day=1)
    start = (start - dt.timedelta(days=1)).replace(day=1)
    period_end = (start + dt.timedelta(days=32)).replace(day=1)
    page.fill("#id_subscription_at", f"{start.isoformat()} 00:00:00")
    page.check("#id_bill_past_periods")  # a start in the past: its first month is billed too
    shoot(page, "05-subscription-start-form")
    page.click('input[type="submit"]')
    subscription = Subscription.objects.get(organization=organization, external_id="sub_browser")
    assert subscription.plan_id == plan.pk
    events = [
        {
            "transaction_id": f"tx_{n}",
            "external_subscription_id": "sub_browser",
            "code": "api_calls",
            "timestamp": int(dt.datetime(start.year, start.month, 15, 12, n, tzinfo=dt.UTC).timestamp()),
        }
        for n in range(15)
    ]
    response = api.post(f"{base}/api/v1/events/batch", json={"events": events})
    assert response.status_code == 200, response.text
    page.goto(f"{base}/admin/subscriptions/subscription/?q=sub_browser")
    shoot(page, "06-subscription-list")

    # 5. Billing runs for the date (the run_billing command; the admin shows the run).
    call_command("run_billing", "--date", period_end.isoformat(), "--no-progress")
    invoice = Invoice.objects.get(customer=customer)
    page.goto(f"{base}/admin/invoicing/billingrun/")
    shoot(page, "07-billing-runs")

    # 6. The invoice is finalized (from the admin when the grace period left it a draft).
    if invoice.status == InvoiceStatus.DRAFT:
        _run_action(page, base, "/admin/invoicing/invoice/", invoice.pk, "finalize_drafts")
        page.click('button[name="index"]')
        page.wait_for_selector(".explain")  # the confirmation page, fully loaded
        assert "Finalizing is final" in page.content()  # says what changes before it does
        page.click('input[type="submit"][value="Finalize"]')
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.FINALIZED
    # 1000 base fee + graduated 15 calls: 10 x 1.00 + 5 x 0.50 + 1.00 flat = 13.50.
    assert invoice.fees_amount_cents == 1000 + 1350
    page.goto(f"{base}/admin/invoicing/invoice/{invoice.pk}/change/")
    assert invoice.number in page.content()
    shoot(page, "08-invoice-finalized")

    # 7. Its PDF is downloaded (the admin's PDF link, with the Billing Admin's session; Chromium
    # would show it inline rather than save it).
    pdf = page.request.get(f"{base}/admin/invoicing/invoice/{invoice.pk}/pdf/")
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body()[:5] == b"%PDF-"
    (SCREENSHOTS.parent / f"{invoice.number}.pdf").write_bytes(pdf.body())

    # 8. A credit note for the usage (no admin form creates one: through the service), then void.
    from invoicing.credits.services.credit_notes import credit_note_create

    usage_fee = invoice.fees.get(charge=charge)
    credit_note = credit_note_create(
        organization,
        CreditNoteCreate.from_body(
            {
                "invoice_id": invoice.id,
                "items": [{"fee_id": usage_fee.id, "amount_cents": usage_fee.amount_cents}],
                "credit_amount_cents": usage_fee.amount_cents,
                "reason": "other",
                "description": "browser flow",
            }
        ),
    )
    page.goto(f"{base}/admin/invoicing/creditnote/{credit_note.pk}/change/")
    shoot(page, "09-credit-note")
    _run_action(page, base, "/admin/invoicing/invoice/", invoice.pk, "void_invoices")
    page.click('button[name="index"]')
    page.wait_for_selector(".explain")  # the confirmation page, fully loaded
    assert "Voiding is final" in page.content()
    shoot(page, "10-void-confirmation")
    page.click('input[type="submit"][value="Void invoices"]')
    shoot(page, "11-voided")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOIDED
    assert CreditNote.objects.filter(invoice=invoice).count() == 1

    # 9. A Finance Viewer opens the same pages and finds nothing that changes anything.
    context.clear_cookies()
    _login(page, base, "viewer")
    pages = {
        "plan": f"/admin/catalog/plan/{plan.pk}/change/",
        "customer": f"/admin/customers/customer/{customer.pk}/change/",
        "invoice": f"/admin/invoicing/invoice/{invoice.pk}/change/",
        "credit-note": f"/admin/invoicing/creditnote/{credit_note.pk}/change/",
    }
    for name, url in pages.items():
        page.goto(base + url)
        assert page.locator('input[name="_save"]').count() == 0, name
        assert page.locator("a.deletelink").count() == 0, name
        shoot(page, f"12-viewer-{name}")
    changelists = [
        "/admin/catalog/plan/",
        "/admin/customers/customer/",
        "/admin/subscriptions/subscription/",
        "/admin/invoicing/invoice/",
        "/admin/invoicing/creditnote/",
        "/admin/payments/payment/",
    ]
    for url in changelists:
        page.goto(base + url)
        assert page.locator("a.addlink").count() == 0, url
        options = page.locator('select[name="action"] option').evaluate_all("els => els.map(e => e.value)")
        assert set(options) <= {"", "download_pdf"}, (url, options)
    page.goto(f"{base}/admin/invoicing/invoice/")
    shoot(page, "13-viewer-invoices-no-actions")
    # The invoice's History button opens its audit trail: the void, by the Billing Admin.
    page.goto(f"{base}/admin/invoicing/invoice/{invoice.pk}/change/")
    page.click('#invoice-buttons a:has-text("Audit trail")')
    page.wait_for_url(f"**/admin/audit/auditlogentry/?object_id={invoice.pk}")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() >= 2
    assert "billing" in page.content()  # the staff user who voided it
    shoot(page, "14-viewer-invoice-audit-trail")
    response = page.goto(f"{base}/admin/catalog/plan/add/")
    assert response.status == 403
    assert Decimal(invoice.fees_amount_cents) == Decimal(2350)
    context.close()
