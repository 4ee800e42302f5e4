"""The finance console through the Django test client: the finance home, aging, the invoice page
and its buttons, the customer page and its actions, billing runs; each calling the services."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from catalog.models import AppliedCoupon
from console.selectors import aging, organization_today
from customers.roles import BILLING_ADMIN, FINANCE_VIEWER, ROLES, SUPPORT_REP
from invoicing.billing.run import customer_bill
from invoicing.credits.models import Wallet
from invoicing.models import BillingRun, Invoice, InvoiceStatus
from payments.models import Payment
from reporting import selectors as analytics
from subscriptions.models import SubscriptionStatus
from tests.factories.catalog import AddOnFactory, CouponFactory
from tests.factories.credits import make_wallet
from tests.factories.customers import CustomerFactory
from tests.factories.invoicing import make_customer, make_plan, subscribe
from tests.factories.payments import finalized_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _login(client, role: str | None) -> User:
    user = User.objects.create_user(f"u-{role or 'none'}".replace(" ", "-").lower(), password="pw", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


@pytest.fixture
def books(organization):
    """Open invoices in USD and JPY at every age, a paid one, a voided one and a draft."""
    today = timezone.now().date()
    usd = CustomerFactory(organization=organization, external_id="cus_usd", currency="USD")
    jpy = CustomerFactory(organization=organization, external_id="cus_jpy", currency="JPY")
    rows = {
        "current": finalized_invoice(usd, 10000, payment_due_date=today + dt.timedelta(days=5)),
        "late_10": finalized_invoice(usd, 2550, payment_due_date=today - dt.timedelta(days=10)),
        "late_45": finalized_invoice(usd, 700, payment_due_date=today - dt.timedelta(days=45)),
        "late_120": finalized_invoice(usd, 123, payment_due_date=today - dt.timedelta(days=120)),
        "jpy_late_70": finalized_invoice(jpy, 15000, currency="JPY", payment_due_date=today - dt.timedelta(days=70)),
        "paid": finalized_invoice(usd, 999, payment_status="succeeded", total_paid_amount_cents=999),
        "voided": finalized_invoice(usd, 5000, status=InvoiceStatus.VOIDED),
        "draft": finalized_invoice(usd, 4000, status=InvoiceStatus.DRAFT, number="ORG-DRAFT"),
    }
    return rows


# ------------------------------------------------------------------------------------------ home


@pytest.mark.parametrize("role", ROLES)
def test_finance_home_for_every_role(client, books, role):
    _login(client, role)
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Finance home" in html
    # Invoiced this month, per currency, never added across currencies; drafts and voided excluded.
    usd_invoiced = 10000 + 2550 + 700 + 123 + 999
    assert f"{usd_invoiced / 100:,.2f} USD" in html
    assert "15,000 JPY" in html
    assert "Usage activitys" not in html
    receivables = {r["currency"]: r for r in page.context["receivables"]}
    assert receivables["USD"]["due"] == "133.73 USD"  # 100 + 25.50 + 7 + 1.23: paid, voided, drafts owe nothing
    assert receivables["USD"]["overdue"] == "33.73 USD"
    assert receivables["JPY"]["overdue"] == "15,000 JPY"


def test_home_without_invoice_permission_is_the_app_index(client, books):
    _login(client, None)
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    assert 'id="month-0"' not in page.content.decode()


def test_aging_buckets_per_currency(client, organization, books):
    _login(client, FINANCE_VIEWER)
    page = client.get(reverse("admin:console_aging") + f"?organization={organization.id}")
    assert page.status_code == 200
    found = {r.currency: r.buckets for r in aging(organization, today=organization_today(organization))}
    assert found["USD"] == {"current": 10000, "1_30": 2550, "31_60": 700, "61_90": 0, "90_plus": 123}
    assert found["JPY"] == {"current": 0, "1_30": 0, "31_60": 0, "61_90": 15000, "90_plus": 0}
    html = page.content.decode()
    assert "15,000 JPY" in html and "25.50 USD" in html


def test_invoice_list_totals_per_currency_and_due_filter(client, organization, books):
    _login(client, FINANCE_VIEWER)
    url = reverse("admin:invoicing_invoice_changelist")
    page = client.get(url + "?due=overdue")
    html = page.content.decode()
    assert page.status_code == 200
    listed = {row.pk for row in page.context["cl"].result_list}
    assert listed == {books["late_10"].pk, books["late_45"].pk, books["late_120"].pk, books["jpy_late_70"].pk}
    assert "33.73 USD (3)" in html  # 25.50 + 7.00 + 1.23, per currency
    assert "15,000 JPY (1)" in html
    assert "overdue 10 d" in html  # an overdue invoice says so, never a green check
    everything = client.get(url).content.decode()
    assert "nothing due (voided)" in everything  # a voided invoice is not "pending"
    assert ">Draft " in everything and ">ORG-DRAFT<" not in everything  # a draft has no fake number


# ------------------------------------------------------------------------------------ invoice page


def test_invoice_page_is_a_document_with_the_buttons_its_state_allows(client, books):
    _login(client, BILLING_ADMIN)
    open_page = client.get(reverse("admin:invoicing_invoice_change", args=[books["late_10"].pk]))
    html = open_page.content.decode()
    assert open_page.status_code == 200
    assert 'id="invoice-document"' in html
    assert 'name="_save"' not in html  # nothing on an invoice is edited by hand
    for button in ("record-payment", 'value="void"', 'value="credit_note"', "Download PDF"):
        assert button in html, button
    assert 'value="finalize"' not in html
    draft = client.get(reverse("admin:invoicing_invoice_change", args=[books["draft"].pk])).content.decode()
    assert 'value="finalize"' in draft and 'value="void"' not in draft and "record-payment" not in draft
    assert "A draft has no number" in draft


def test_finance_viewer_sees_the_document_without_buttons(client, books):
    _login(client, FINANCE_VIEWER)
    html = client.get(reverse("admin:invoicing_invoice_change", args=[books["late_10"].pk])).content.decode()
    assert 'id="invoice-document"' in html
    assert "record-payment" not in html and 'value="void"' not in html
    assert "Download PDF" in html


def test_record_payment_creates_a_payment_row(client, books):
    invoice = books["late_10"]
    _login(client, BILLING_ADMIN)
    url = reverse("admin:invoicing_invoice_record_payment", args=[invoice.pk])
    form = client.get(url)
    assert form.status_code == 200
    assert form.context["form"].initial["amount"] == 25.5
    partial = client.post(url, {"amount": "20.50", "reference": "wire 1"})
    assert partial.status_code == 302
    invoice.refresh_from_db()
    assert invoice.total_paid_amount_cents == 2050 and invoice.payment_status != "succeeded"
    client.post(url, {"amount": "5", "reference": "wire 2"})
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"
    payments = Payment.objects.filter(invoice=invoice).order_by("created_at")
    assert [p.amount_cents for p in payments] == [2050, 500]
    assert {p.reference for p in payments} == {"wire 1", "wire 2"}


def test_record_payment_reads_amounts_in_the_currency(client, books):
    invoice = books["jpy_late_70"]
    _login(client, BILLING_ADMIN)
    url = reverse("admin:invoicing_invoice_record_payment", args=[invoice.pk])
    refused = client.post(url, {"amount": "100.5", "reference": "yen"})
    assert refused.status_code == 200
    assert "JPY amounts have no decimals" in refused.content.decode()
    client.post(url, {"amount": "15000", "reference": "yen"})
    assert Payment.objects.get(invoice=invoice).amount_cents == 15000  # JPY has no minor unit


@pytest.mark.parametrize("role", [FINANCE_VIEWER, SUPPORT_REP])
def test_record_payment_needs_the_role(client, books, role):
    _login(client, role)
    url = reverse("admin:invoicing_invoice_record_payment", args=[books["late_10"].pk])
    assert client.post(url, {"amount": "25.50", "reference": "x"}).status_code == 403
    assert not Payment.objects.exists()


def test_finalize_button_confirms_what_changes_then_returns_to_the_invoice(client, organization):
    customer = make_customer(organization, invoice_grace_period=3)
    subscribe(customer, make_plan(organization, amount_cents=5000), datetime(2024, 1, 1, tzinfo=UTC))
    [draft] = customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    assert draft.status == InvoiceStatus.DRAFT
    _login(client, BILLING_ADMIN)
    changelist = reverse("admin:invoicing_invoice_changelist")
    data = {"action": "finalize_drafts", "_selected_action": [str(draft.pk)], "_return_to": "invoice"}
    confirm = client.post(changelist, data)
    html = confirm.content.decode()
    assert "Finalizing is final" in html and f"issuing date {draft.issuing_date}" in html
    done = client.post(changelist, {**data, "confirm": "yes"})
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:invoicing_invoice_change", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.FINALIZED and not draft.number.endswith("DRAFT")


# ----------------------------------------------------------------------------------- customer page


@pytest.fixture
def subscribed(organization):
    customer = make_customer(organization, name="Overview Ltd")
    plan = make_plan(organization, amount_cents=4900)
    subscription = subscribe(customer, plan, timezone.now() - dt.timedelta(days=3))
    return customer, subscription


def test_customer_page_is_an_overview(client, subscribed):
    customer, subscription = subscribed
    finalized_invoice(customer, 1200, payment_due_date=timezone.now().date() - dt.timedelta(days=3))
    make_wallet(customer, granted="10")
    _login(client, FINANCE_VIEWER)
    page = client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for section in ("tab-subscriptions", "tab-invoices", "tab-payments", "tab-credit-notes", "tab-wallets",
                    "tab-coupons", "tab-alerts", "tab-activity", "tab-settings"):  # fmt: skip
        assert section in html, section
    assert subscription.external_id in html
    assert "12.00 USD overdue" in html
    assert "10.00 USD" in html  # the wallet's balance
    assert "One-off invoice" not in html  # a Finance Viewer is offered no action
    [row] = page.context["subscription_rows"]
    assert row["usage"] == "0.00 USD" and row["next_billing"] != "-"
    assert row["payment_method"] == "provider: default method"  # docs/payments.md §12


def test_customer_actions_for_billing_admin(client, organization, subscribed):
    customer, subscription = subscribed
    _login(client, BILLING_ADMIN)
    html = client.get(reverse("admin:customers_customer_change", args=[customer.pk])).content.decode()
    for label in ("One-off invoice", "Apply a coupon", "Create a wallet", "Preview termination"):
        assert label in html, label

    coupon = CouponFactory(organization=organization, amount_cents=1000)
    url = reverse("admin:customers_customer_apply_coupon", args=[customer.pk])
    assert client.post(url, {"coupon": coupon.pk, "amount": "7.50"}).status_code == 302
    applied = AppliedCoupon.objects.get(customer=customer)
    assert applied.amount_cents == 750  # typed in dollars, stored in cents

    url = reverse("admin:customers_customer_create_wallet", args=[customer.pk])
    response = client.post(url, {"currency": "USD", "rate_amount": "1", "granted_credits": "25"})
    assert response.status_code == 302
    wallet = Wallet.objects.get(customer=customer)
    assert wallet.balance_cents == 2500

    url = reverse("admin:customers_customer_top_up", args=[customer.pk])
    assert client.post(url, {"wallet": wallet.pk, "granted_credits": "5"}).status_code == 302
    wallet.refresh_from_db()
    assert wallet.balance_cents == 3000

    add_on = AddOnFactory(organization=organization, amount_cents=5000)
    url = reverse("admin:customers_customer_one_off", args=[customer.pk])
    response = client.post(url, {"add_on": add_on.pk, "units": "3", "unit_amount": "19.99"})
    assert response.status_code == 302
    invoice = Invoice.objects.get(customer=customer, invoice_type="one_off")
    assert invoice.fees_amount_cents == 3 * 1999
    assert response["Location"] == reverse("admin:invoicing_invoice_change", args=[invoice.pk])

    url = reverse("admin:customers_customer_terminate", args=[customer.pk, subscription.pk])
    preview = client.get(url)
    assert preview.status_code == 200 and preview.context["preview"] is not None
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE  # a preview changes nothing
    assert client.post(url, {"confirm": "yes"}).status_code == 302
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.TERMINATED


def test_customer_action_refusals_change_nothing(client, organization, subscribed):
    customer, _ = subscribed
    _login(client, BILLING_ADMIN)
    add_on = AddOnFactory(organization=organization)
    url = reverse("admin:customers_customer_one_off", args=[customer.pk])
    refused = client.post(url, {"add_on": add_on.pk, "units": "1", "unit_amount": "1.234"})
    assert refused.status_code == 200 and "at most 2 decimals" in refused.content.decode()
    other = AddOnFactory()  # another tenant's add-on is not offered
    assert client.post(url, {"add_on": other.pk, "units": "1"}).status_code == 200
    assert not Invoice.objects.filter(customer=customer, invoice_type="one_off").exists()


@pytest.mark.parametrize("role", [FINANCE_VIEWER, SUPPORT_REP])
def test_customer_actions_need_the_role(client, organization, subscribed, role):
    customer, subscription = subscribed
    _login(client, role)
    add_on = AddOnFactory(organization=organization)
    assert (
        client.post(
            reverse("admin:customers_customer_one_off", args=[customer.pk]), {"add_on": add_on.pk, "units": "1"}
        ).status_code
        == 403
    )
    url = reverse("admin:customers_customer_terminate", args=[customer.pk, subscription.pk])
    assert client.post(url, {"confirm": "yes"}).status_code == 403
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE


# ------------------------------------------------------------------------------------ billing runs


def test_billing_run_preview_then_start(client, organization, django_capture_on_commit_callbacks):
    customer = make_customer(organization)
    subscribe(customer, make_plan(organization, amount_cents=3000), datetime(2024, 1, 1, tzinfo=UTC))
    _login(client, BILLING_ADMIN)
    url = reverse("admin:console_billing_run_start")
    preview = client.get(url, {"organization": organization.pk, "date": "2024-02-01"})
    assert preview.status_code == 200
    assert [row["customer"] for row in preview.context["due"]] == [customer]
    assert not Invoice.objects.exists()
    assert not BillingRun.objects.exists()  # a preview reads only
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(url, {"organization": organization.pk, "date": "2024-02-01", "step": "start"})
    assert started.status_code == 302
    invoice = Invoice.objects.get(customer=customer)
    assert invoice.fees_amount_cents == 3000
    run = BillingRun.objects.get()
    assert run.trigger == "console" and run.invoices_created == 1
    listing = client.get(reverse("admin:console_billing_runs") + f"?organization={organization.pk}")
    assert listing.status_code == 200 and run in listing.context["runs"]


def test_billing_run_needs_the_role(client, organization):
    _login(client, FINANCE_VIEWER)
    url = reverse("admin:console_billing_run_start")
    assert client.post(url, {"organization": organization.pk, "date": "2024-02-01", "step": "start"}).status_code == 403
    assert client.get(reverse("admin:console_billing_runs")).status_code == 200  # reading runs is fine
    assert not BillingRun.objects.exists()


def test_rerun_failed_customers(client, organization, django_capture_on_commit_callbacks):
    customer = make_customer(organization)
    subscribe(customer, make_plan(organization, amount_cents=3000), datetime(2024, 1, 1, tzinfo=UTC))
    at = datetime(2024, 2, 1, 23, 59, 59, tzinfo=UTC)
    failed = BillingRun.objects.create(
        organization=organization, trigger="beat", at=at, status="failed", customers_due=1, customers_failed=1,
        failures=[{"customer_id": str(customer.id), "external_id": customer.external_id, "error": "boom"}],
    )  # fmt: skip
    _login(client, BILLING_ADMIN)
    url = reverse("admin:console_billing_run_retry", args=[failed.pk])
    assert "boom" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 302
    assert Invoice.objects.filter(customer=customer).count() == 1
    retry = BillingRun.objects.get(trigger="console_retry")
    assert retry.customers_due == 1 and retry.invoices_created == 1


# ------------------------------------------------------------------------------------ lifetime value


def test_customer_lifetime_value(organization):
    from tests.factories.reporting import make_subscription

    plan = make_plan(organization, amount_cents=10000)
    today = timezone.now().date()
    start = timezone.now() - dt.timedelta(days=400)
    staying = [make_customer(organization, currency="USD") for _ in range(3)]
    leaving = make_customer(organization, currency="USD")
    for customer in staying:
        make_subscription(customer, plan, start)
    make_subscription(
        leaving, plan, start, status=SubscriptionStatus.TERMINATED, terminated_at=timezone.now() - dt.timedelta(days=45)
    )
    [row] = analytics.customer_lifetime_value(organization, months=12, today=today)
    assert row["currency"] == "USD" and row["paying_customers"] == 3
    assert row["average_revenue_per_customer_cents"] == 10000
    # One churn over the customer-months at risk of the last 12 months.
    rate = row["average_churn_rate"]
    assert rate is not None
    from decimal import Decimal

    assert row["lifetime_value_cents"] == round(Decimal(10000) / Decimal(rate))


def test_lifetime_value_api(api, organization):
    response = api.get("/api/v1/analytics/customer_lifetime_value?currency=USD")
    assert response.status_code == 200
    assert response.json() == {
        "customer_lifetime_values": [
            {
                "currency": "USD",
                "months": 12,
                "mrr_cents": 0,
                "paying_customers": 0,
                "average_revenue_per_customer_cents": 0,
                "average_churn_rate": None,
                "lifetime_value_cents": None,
            }
        ]
    }
    assert api.get("/api/v1/analytics/customer_lifetime_value?months=0").status_code == 422


def test_customer_actions_never_reach_another_tenant(client, organization, subscribed, other_tenant):
    customer, _ = subscribed
    _login(client, BILLING_ADMIN)
    foreign_coupon = CouponFactory(organization=other_tenant.organization)
    url = reverse("admin:customers_customer_apply_coupon", args=[customer.pk])
    assert client.post(url, {"coupon": foreign_coupon.pk}).status_code == 200  # not a choice: the form refuses
    assert not AppliedCoupon.objects.exists()
    stranger = CustomerFactory(organization=other_tenant.organization, currency="USD")
    foreign_wallet = make_wallet(stranger, granted="10")
    url = reverse("admin:customers_customer_top_up", args=[customer.pk])
    assert client.post(url, {"wallet": foreign_wallet.pk, "granted_credits": "5"}).status_code == 200
    foreign_wallet.refresh_from_db()
    assert foreign_wallet.balance_cents == 1000
    other_subscription = subscribe(stranger, make_plan(other_tenant.organization), timezone.now())
    terminate = reverse("admin:customers_customer_terminate", args=[customer.pk, other_subscription.pk])
    assert client.post(terminate, {"confirm": "yes"}).status_code == 404
    other_subscription.refresh_from_db()
    assert other_subscription.status == SubscriptionStatus.ACTIVE
    missing = reverse("admin:customers_customer_one_off", args=["00000000-0000-0000-0000-000000000000"])
    assert client.get(missing).status_code == 404


# ------------------------------------------------------------------- resend and the portal link


def test_resend_email_button_sends_the_invoice_again(client, organization, django_capture_on_commit_callbacks):
    from django.core import mail

    from payments.models import SentEmail

    customer = CustomerFactory(organization=organization, email="ap@buyer.test", currency="USD")
    invoice = finalized_invoice(customer, 1500)
    _login(client, BILLING_ADMIN)
    page = client.get(reverse("admin:invoicing_invoice_change", args=[invoice.pk])).content.decode()
    assert 'value="resend_email"' in page
    url = reverse("admin:invoicing_invoice_resend_email", args=[invoice.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    assert "is being e-mailed to ap@buyer.test" in response.content.decode()
    assert [m.to for m in mail.outbox] == [["ap@buyer.test"]]
    assert SentEmail.objects.get(document_id=invoice.id).sequence == 1
    assert client.get(url).status_code == 302  # a GET sends nothing
    assert SentEmail.objects.filter(document_id=invoice.id).count() == 1


def test_resend_email_refusals_send_nothing(client, organization, books):
    from payments.models import SentEmail

    _login(client, BILLING_ADMIN)
    draft = books["draft"]
    html = client.get(reverse("admin:invoicing_invoice_change", args=[draft.pk])).content.decode()
    assert 'value="resend_email"' not in html  # a draft has no e-mail to send
    response = client.post(reverse("admin:invoicing_invoice_resend_email", args=[draft.pk]), follow=True)
    assert "was not sent" in response.content.decode()
    no_address = books["late_10"]
    no_address.customer.email = ""
    no_address.customer.save(update_fields=["email"])
    response = client.post(reverse("admin:invoicing_invoice_resend_email", args=[no_address.pk]), follow=True)
    assert "the customer has no e-mail address" in response.content.decode()
    assert not SentEmail.objects.exists()
    _login(client, FINANCE_VIEWER)
    assert (
        'value="resend_email"'
        not in client.get(reverse("admin:invoicing_invoice_change", args=[books["late_10"].pk])).content.decode()
    )
    assert client.post(reverse("admin:invoicing_invoice_resend_email", args=[books["late_10"].pk])).status_code == 403
    assert not SentEmail.objects.exists()


@pytest.mark.parametrize("role", [BILLING_ADMIN, SUPPORT_REP])
def test_portal_link_opens_the_customers_portal(client, subscribed, role):
    customer, _ = subscribed
    _login(client, role)
    html = client.get(reverse("admin:customers_customer_change", args=[customer.pk])).content.decode()
    assert 'id="portal-link-button"' in html
    page = client.get(reverse("admin:customers_customer_portal_link", args=[customer.pk]))
    assert page.status_code == 200
    link = page.context["portal_link"]
    assert "/portal/" in link and link.startswith("http")
    client.logout()  # the customer has no console account: the link alone opens the portal
    portal = client.get(urlsplit(link).path)
    assert portal.status_code == 200 and customer.name in portal.content.decode()


def test_portal_link_needs_the_role(client, subscribed):
    customer, _ = subscribed
    _login(client, FINANCE_VIEWER)
    html = client.get(reverse("admin:customers_customer_change", args=[customer.pk])).content.decode()
    assert "portal-link-button" not in html
    assert client.get(reverse("admin:customers_customer_portal_link", args=[customer.pk])).status_code == 403
