"""The daily jobs of finance staff in a real browser at 1440 px, as each role: what is owed (home,
aging, overdue list), a customer's money on one page and the actions on it (one-off invoice,
record a payment, coupon, wallet, termination preview), billing runs; a Finance Viewer and a
Support Rep see the same pages without the buttons their role does not allow."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from catalog.models import AppliedCoupon
from customers.roles import BILLING_ADMIN, FINANCE_VIEWER, SUPPORT_REP
from invoicing.credits.models import Wallet
from invoicing.models import BillingRun, Invoice
from payments.models import Payment
from subscriptions.models import SubscriptionStatus
from tests.factories.catalog import AddOnFactory, CouponFactory
from tests.factories.credits import make_one_off_invoice
from tests.factories.customers import CustomerFactory, OrganizationFactory
from tests.factories.invoicing import make_plan, subscribe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 1440


def _staff(username: str, role: str) -> None:
    user = User.objects.create_user(username, password="pw-" + username, is_staff=True)
    user.groups.add(Group.objects.get(name=role))


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-" + username)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def _fits(page) -> None:
    """Nothing wider than the window (no horizontal scroll of the page, nor of a list's table)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"
    results = page.evaluate(
        "Array.from(document.querySelectorAll('#changelist .results')).map(e => e.scrollWidth - e.clientWidth)"
    )
    assert all(extra <= 0 for extra in results), f"{page.url}: the list scrolls sideways by {results}"


@pytest.fixture
def books(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    organization = OrganizationFactory(name="Console Co", default_currency="USD")
    today = timezone.now().date()
    acme = CustomerFactory(organization=organization, external_id="cus_acme", name="Acme Corp", currency="USD")
    tokyo = CustomerFactory(organization=organization, external_id="cus_tokyo", name="Tokyo KK", currency="JPY")
    plan = make_plan(organization, amount_cents=14900, name="Pro", code="pro")
    subscription = subscribe(acme, plan, timezone.now() - dt.timedelta(days=40))
    overdue = make_one_off_invoice(acme, 14900)
    old = make_one_off_invoice(acme, 4200)
    yen = make_one_off_invoice(tokyo, 150000, currency="JPY")
    for invoice, days in ((overdue, 12), (old, 75), (yen, 3)):  # issued earlier, past their due dates
        Invoice.objects.filter(pk=invoice.pk).update(
            issuing_date=today - dt.timedelta(days=days + 30), payment_due_date=today - dt.timedelta(days=days)
        )
    add_on = AddOnFactory(organization=organization, name="Onboarding", code="onboarding", amount_cents=50000)
    coupon = CouponFactory(organization=organization, code="welcome", name="Welcome", amount_cents=2000)
    _staff("billing", BILLING_ADMIN)
    _staff("viewer", FINANCE_VIEWER)
    _staff("support", SUPPORT_REP)
    return {
        "organization": organization, "acme": acme, "subscription": subscription, "overdue": overdue,
        "add_on": add_on, "coupon": coupon,
    }  # fmt: skip


def test_billing_admin_daily_jobs(live_server, browser, shoot, books):
    base = live_server.url
    acme = books["acme"]
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    page = context.new_page()
    _login(page, base, "billing")

    # What is owed: the finance home, per currency, and the aging view.
    assert page.locator("#month-0").count() == 1
    assert "150,000 JPY" in page.content()
    shoot(page, "20-billing-admin-finance-home")
    _fits(page)
    page.click('.toolbar a:has-text("Aging")')
    assert "42.00 USD" in page.locator("#aging").inner_text()  # the 61-90 days bucket
    shoot(page, "21-aging")
    _fits(page)
    page.goto(f"{base}/admin/")
    page.click('.toolbar a:has-text("Overdue invoices")')
    assert "191.00 USD (2)" in page.locator("#currency-totals").inner_text()
    shoot(page, "22-overdue-invoices-with-totals")
    _fits(page)

    # A customer's money on one page.
    page.goto(f"{base}/admin/customers/customer/{acme.pk}/change/")
    balances = page.locator("#balances").inner_text()
    assert "191.00 USD" in balances and "overdue" in balances
    assert "sub" in page.locator("#tab-subscriptions").inner_text().lower()
    shoot(page, "23-customer-overview")
    _fits(page)
    page.click('#customer-tabs a[data-tab="invoices"]')
    assert page.locator("#tab-invoices").is_visible()
    shoot(page, "24-customer-invoices-tab")

    # A one-off invoice, priced in dollars.
    page.click('#customer-actions a:has-text("One-off invoice")')
    page.select_option("#id_add_on", str(books["add_on"].pk))
    page.fill("#id_units", "2")
    page.fill("#id_unit_amount", "450")
    shoot(page, "25-one-off-invoice-form")
    page.click('button:has-text("Issue a one-off invoice")')
    page.wait_for_selector("#invoice-document")
    one_off = Invoice.objects.get(customer=acme, invoice_type="one_off", fees_amount_cents=90000)
    assert "900.00 USD" in page.locator("#invoice-totals").inner_text()
    shoot(page, "26-invoice-document")
    _fits(page)

    # Record the bank transfer that pays it: a payment row, the invoice paid.
    page.click("#record-payment")
    assert page.input_value("#id_amount") == "900.00"
    page.fill("#id_reference", "WIRE-2026-118")
    shoot(page, "27-record-payment")
    page.click('button:has-text("Record the payment")')
    page.wait_for_selector("#invoice-document")
    one_off.refresh_from_db()
    assert one_off.payment_status == "succeeded"
    assert Payment.objects.get(invoice=one_off).reference == "WIRE-2026-118"
    assert "WIRE-2026-118" in page.locator("#invoice-payments").inner_text()
    shoot(page, "28-invoice-paid")

    # A credit note on the overdue invoice: the estimate comes before anything is created.
    page.goto(f"{base}/admin/invoicing/invoice/{books['overdue'].pk}/change/")
    page.click('#invoice-buttons button[value="credit_note"]')
    page.wait_for_selector("button[value=estimate]")  # the credit note form, fully loaded
    assert "Create a credit note" in page.content()
    shoot(page, "29-credit-note-form")

    # A coupon and a wallet from the customer page.
    page.goto(f"{base}/admin/customers/customer/{acme.pk}/change/")
    page.click('#customer-actions a:has-text("Apply a coupon")')
    page.select_option("#id_coupon", str(books["coupon"].pk))
    page.fill("#id_amount", "15")
    page.click('button:has-text("Apply a coupon")')
    page.wait_for_selector("#customer-tabs")
    assert AppliedCoupon.objects.get(customer=acme).amount_cents == 1500
    page.click('#customer-actions a:has-text("Create a wallet")')
    page.fill("#id_granted_credits", "50")
    page.click('button:has-text("Create a wallet")')
    page.wait_for_selector("#customer-tabs")
    assert Wallet.objects.get(customer=acme).balance_cents == 5000
    assert page.locator("#tab-wallets").is_visible()
    shoot(page, "30-customer-wallet-created")

    # Preview what terminating the subscription would invoice, then terminate.
    page.click('#customer-tabs a[data-tab="subscriptions"]')
    page.click('#tab-subscriptions a:has-text("Preview termination")')
    assert page.locator("#termination-preview").count() == 1
    shoot(page, "31-termination-preview")
    books["subscription"].refresh_from_db()
    assert books["subscription"].status == SubscriptionStatus.ACTIVE
    page.click('button:has-text("Terminate now")')
    page.wait_for_selector("#customer-tabs")
    books["subscription"].refresh_from_db()
    assert books["subscription"].status == SubscriptionStatus.TERMINATED

    # Billing runs: preview a date (dry run), then start it.
    page.goto(f"{base}/admin/console/billing-runs/")
    page.click('button:has-text("Preview what is due")')
    page.wait_for_selector(".explain")
    assert "Nothing was billed" in page.content()
    shoot(page, "32-billing-run-preview")
    assert not BillingRun.objects.exists()  # a preview reads only

    # The lists fit a 1280 px screen too.
    page.set_viewport_size({"width": 1280, "height": 900})
    for name, url in (("invoices", "/admin/invoicing/invoice/"), ("payments", "/admin/payments/payment/")):
        page.goto(base + url)
        assert page.locator("#currency-totals").count() == 1
        shoot(page, f"33-{name}-at-1280")
        _fits(page)
    context.close()


@pytest.mark.parametrize(("username", "role"), [("viewer", FINANCE_VIEWER), ("support", SUPPORT_REP)])
def test_read_only_roles_see_the_money_without_the_buttons(live_server, browser, shoot, books, username, role):
    base = live_server.url
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    page = context.new_page()
    _login(page, base, username)
    assert page.locator("#month-0").count() == 1
    shoot(page, f"40-{username}-finance-home")
    page.goto(f"{base}/admin/customers/customer/{books['acme'].pk}/change/")
    assert "191.00 USD" in page.locator("#balances").inner_text()
    assert page.locator("#customer-actions a.button-link:not(.secondary)").count() == 0
    assert page.locator("#tab-subscriptions a:has-text('Preview termination')").count() == 0
    shoot(page, f"41-{username}-customer")
    page.goto(f"{base}/admin/invoicing/invoice/{books['overdue'].pk}/change/")
    assert page.locator("#invoice-document").count() == 1
    assert page.locator("#invoice-buttons button").count() == 0
    assert page.locator("#record-payment").count() == 0
    shoot(page, f"42-{username}-invoice")
    response = page.goto(f"{base}/admin/customers/customer/{books['acme'].pk}/one-off-invoice/")
    assert response.status == 403
    context.close()
