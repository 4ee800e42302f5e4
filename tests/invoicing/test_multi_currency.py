"""Multi-currency customers (docs/billing-semantics.md §6.9): a customer holds subscriptions, wallets,
coupons and invoices in several currencies; the customer's `currency` is only its default. A billing
day gives one invoice per currency, and credits only pay invoices of their own currency."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from catalog.models import CouponStatus
from customers.models import Customer
from invoicing.billing.run import customer_bill
from invoicing.models import Invoice, InvoiceSubscription
from tests.factories.catalog import AppliedCouponFactory, CouponFactory
from tests.factories.credits import make_credit_note, make_one_off_invoice, make_wallet
from tests.factories.invoicing import (
    add_events,
    make_charge,
    make_customer,
    make_metric,
    make_plan,
    make_tax,
    subscribe,
    tax_plan,
)

pytestmark = pytest.mark.django_db

FEB_1 = datetime(2024, 2, 1, 1, tzinfo=UTC)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def two_currency_customer(organization, external_id: str = "acme"):
    """USD: base 1,000 + 3 calls at 1.00 (no tax) → 1,300. EUR: base 2,500 + 20 % tax → 3,000."""
    customer = make_customer(organization, external_id=external_id, currency="USD")
    usd = make_plan(organization, amount_cents=1000, currency="USD", code=f"usd_{external_id}")
    calls = make_metric(organization, f"calls_{external_id}")
    make_charge(usd, calls, properties={"amount": "1"})
    eur = make_plan(organization, amount_cents=2500, currency="EUR", code=f"eur_{external_id}")
    tax_plan(eur, make_tax(organization, "20"))
    us_sub = subscribe(customer, usd, at(2024, 1, 1), external_id=f"{external_id}-us")
    eu_sub = subscribe(customer, eur, at(2024, 1, 1), external_id=f"{external_id}-eu")
    add_events(us_sub, calls.code, [at(2024, 1, 10)] * 3)
    return customer, us_sub, eu_sub


def by_currency(invoices) -> dict[str, Invoice]:
    assert len({i.currency for i in invoices}) == len(invoices)
    return {i.currency: i for i in invoices}


def subscriptions_of(invoice: Invoice) -> set[str]:
    return set(InvoiceSubscription.objects.filter(invoice=invoice).values_list("subscription__external_id", flat=True))


def test_a_billing_day_gives_one_invoice_per_currency_with_exact_amounts(organization):
    customer, us_sub, eu_sub = two_currency_customer(organization)
    invoices = by_currency(customer_bill(customer.id, at=FEB_1))
    usd, eur = invoices["USD"], invoices["EUR"]
    assert (usd.fees_amount_cents, usd.taxes_amount_cents, usd.total_amount_cents) == (1300, 0, 1300)
    assert (eur.fees_amount_cents, eur.taxes_amount_cents, eur.total_amount_cents) == (2500, 500, 3000)
    assert set(usd.fees.values_list("currency", flat=True)) == {"USD"}
    assert set(eur.fees.values_list("currency", flat=True)) == {"EUR"}
    assert subscriptions_of(usd) == {us_sub.external_id} and subscriptions_of(eur) == {eu_sub.external_id}
    assert usd.issuing_date == eur.issuing_date and usd.number != eur.number
    assert usd.status == eur.status == "finalized"
    customer.refresh_from_db()
    assert customer.currency == "USD"  # the default stays the first currency
    assert customer_bill(customer.id, at=FEB_1) == []  # idempotent per (subscription, period)
    assert Invoice.objects.filter(customer=customer).count() == 2


def test_the_sweep_bills_a_batch_mixing_one_and_two_currency_customers(organization, capsys):
    two_currency_customer(organization, "two")
    one = make_customer(organization, external_id="one", currency="EUR")
    subscribe(one, make_plan(organization, amount_cents=700, currency="EUR"), at(2024, 1, 1))
    call_command("run_billing", "--date", "2024-02-01")
    assert "3 invoices created" in capsys.readouterr().out
    rows = Invoice.objects.filter(organization=organization).values_list(
        "customer__external_id", "currency", "total_amount_cents"
    )
    assert sorted(rows) == [("one", "EUR", 700), ("two", "EUR", 3000), ("two", "USD", 1300)]
    numbers = list(Invoice.objects.filter(organization=organization).values_list("number", flat=True))
    assert len(set(numbers)) == 3
    call_command("run_billing", "--date", "2024-02-01")
    assert Invoice.objects.filter(organization=organization).count() == 3


def test_a_wallet_pays_only_invoices_of_its_currency(organization):
    customer, _, _ = two_currency_customer(organization)
    wallet = make_wallet(customer, granted="10", currency="EUR")  # 1,000 EUR cents
    customer.refresh_from_db()
    assert (wallet.currency, customer.currency) == ("EUR", "USD")
    invoices = by_currency(customer_bill(customer.id, at=FEB_1))
    assert (invoices["USD"].prepaid_credit_amount_cents, invoices["USD"].total_amount_cents) == (0, 1300)
    assert (invoices["EUR"].prepaid_credit_amount_cents, invoices["EUR"].total_amount_cents) == (1000, 2000)
    wallet.refresh_from_db()
    assert wallet.balance_cents == 0


def test_a_fixed_coupon_and_a_credit_note_reduce_only_invoices_of_their_currency(organization):
    customer, _, _ = two_currency_customer(organization)
    coupon = CouponFactory(organization=organization, amount_cents=400, amount_currency="EUR")
    applied = AppliedCouponFactory(coupon=coupon, customer=customer)
    paid = make_one_off_invoice(customer, 250, currency="USD")
    make_credit_note(paid, credit=250)  # a USD credit of 250
    invoices = by_currency(customer_bill(customer.id, at=FEB_1))
    usd, eur = invoices["USD"], invoices["EUR"]
    assert (usd.coupons_amount_cents, usd.credit_notes_amount_cents, usd.total_amount_cents) == (0, 250, 1050)
    # EUR: (2,500 − 400) + 20 % = 2,520; the USD credit note does not touch it
    assert (eur.coupons_amount_cents, eur.credit_notes_amount_cents, eur.total_amount_cents) == (400, 0, 2520)
    applied.refresh_from_db()
    assert applied.status == CouponStatus.TERMINATED


def test_the_documented_example_wallet_and_coupon_on_the_eur_invoice(organization):
    """docs/billing-semantics.md §6.9: USD 1,300 untouched; EUR (2,500 − 400) + 20 % − 1,000 = 1,520."""
    customer, _, _ = two_currency_customer(organization)
    make_wallet(customer, granted="10", currency="EUR")
    AppliedCouponFactory(
        coupon=CouponFactory(organization=organization, amount_cents=400, amount_currency="EUR"), customer=customer
    )
    invoices = by_currency(customer_bill(customer.id, at=FEB_1))
    usd, eur = invoices["USD"], invoices["EUR"]
    assert (usd.coupons_amount_cents, usd.prepaid_credit_amount_cents, usd.total_amount_cents) == (0, 0, 1300)
    assert (eur.sub_total_including_taxes_amount_cents, eur.prepaid_credit_amount_cents) == (2520, 1000)
    assert eur.total_amount_cents == 1520


def test_a_percentage_coupon_applies_to_every_currency(organization):
    customer, _, _ = two_currency_customer(organization)
    coupon = CouponFactory(
        organization=organization,
        coupon_type="percentage",
        percentage_rate=Decimal("10"),
        amount_cents=None,
        amount_currency=None,
        frequency="forever",
    )
    AppliedCouponFactory(
        coupon=coupon,
        customer=customer,
        frequency="forever",
        amount_cents=None,
        amount_cents_remaining=None,
        amount_currency=None,
        percentage_rate=Decimal("10"),
    )
    invoices = by_currency(customer_bill(customer.id, at=FEB_1))
    assert (invoices["USD"].coupons_amount_cents, invoices["USD"].total_amount_cents) == (130, 1170)
    assert (invoices["EUR"].coupons_amount_cents, invoices["EUR"].total_amount_cents) == (250, 2700)


def test_current_usage_is_in_the_subscriptions_currency(api, organization):
    customer, us_sub, eu_sub = two_currency_customer(organization)
    for sub, currency in ((us_sub, "USD"), (eu_sub, "EUR")):
        response = api.get(
            f"/api/v1/customers/{customer.external_id}/current_usage?external_subscription_id={sub.external_id}"
        )
        assert response.status_code == 200, response.content
        assert response.json()["customer_usage"]["currency"] == currency


# --- the API ---------------------------------------------------------------------------------------


def _subscribe(api, plan_code: str, external_id: str, **extra):
    body = {"external_customer_id": "multi", "plan_code": plan_code, "external_id": external_id, **extra}
    return api.post("/api/v1/subscriptions", {"subscription": body}, format="json")


def test_api_subscriptions_and_wallets_in_two_currencies(api, organization):
    make_plan(organization, amount_cents=1000, currency="USD", code="basic_usd")
    make_plan(organization, amount_cents=900, currency="EUR", code="basic_eur")
    assert _subscribe(api, "basic_usd", "m-1").status_code == 200
    second = _subscribe(api, "basic_eur", "m-2")
    assert second.status_code == 200, second.content
    assert second.json()["subscription"]["plan_amount_currency"] == "EUR"
    customer = Customer.objects.get(organization=organization, external_id="multi")
    assert customer.currency == "USD"
    listed = api.get("/api/v1/subscriptions?external_customer_id=multi").json()["subscriptions"]
    assert sorted((s["external_id"], s["plan_amount_currency"]) for s in listed) == [("m-1", "USD"), ("m-2", "EUR")]
    wallet = api.post(
        "/api/v1/wallets",
        {"wallet": {"external_customer_id": "multi", "currency": "EUR", "rate_amount": "1", "granted_credits": "5"}},
        format="json",
    )
    assert wallet.status_code == 200 and wallet.json()["wallet"]["currency"] == "EUR"
    one_off = api.post(
        "/api/v1/invoices",
        {"invoice": {"external_customer_id": "multi", "currency": "GBP", "fees": [{"add_on_code": "x"}]}},
        format="json",
    )
    assert one_off.status_code == 404  # the add-on, not the currency, is what is missing


def test_api_refusals_kept_where_lago_still_refuses(api, organization):
    make_plan(organization, amount_cents=1000, currency="USD", code="basic_usd")
    make_plan(organization, amount_cents=900, currency="EUR", code="basic_eur")
    before = Customer.objects.count()
    bad_override = _subscribe(api, "basic_usd", "m-1", plan_overrides={"amount_currency": "EUR"})
    assert bad_override.status_code == 422
    assert bad_override.json()["error_details"] == {"plan_overrides.amount_currency": ["currencies_does_not_match"]}
    unknown = _subscribe(api, "basic_usd", "m-1", plan_overrides={"amount_currency": "EURO"})
    assert unknown.json()["error_details"] == {"plan_overrides.amount_currency": ["value_is_invalid"]}
    assert _subscribe(api, "basic_usd", "m-1").status_code == 200
    assert _subscribe(api, "basic_eur", "m-2").status_code == 200
    preview = api.post(
        "/api/v1/invoices/preview",
        {"customer": {"external_id": "multi"}, "subscriptions": {"external_ids": ["m-1", "m-2"]}},
        format="json",
    )
    assert preview.status_code == 422
    assert preview.json()["error_details"] == {"base": ["subscription_currencies_does_not_match"]}
    bad_wallet = api.post(
        "/api/v1/wallets",
        {"wallet": {"external_customer_id": "multi", "currency": "EURO", "rate_amount": "1"}},
        format="json",
    )
    assert bad_wallet.status_code == 422 and "currency" in bad_wallet.json()["error_details"]
    assert Customer.objects.count() == before + 1


def test_preview_of_a_subscription_in_another_currency_than_the_customers(api, organization):
    make_plan(organization, amount_cents=1000, currency="USD", code="basic_usd")
    make_plan(organization, amount_cents=900, currency="EUR", code="basic_eur", pay_in_advance=True)
    _subscribe(api, "basic_usd", "m-1")
    preview = api.post(
        "/api/v1/invoices/preview",
        {"customer": {"external_id": "multi"}, "plan_code": "basic_eur", "subscription_at": "2024-03-01T00:00:00Z"},
        format="json",
    )
    assert preview.status_code == 200, preview.content
    assert (preview.json()["invoice"]["currency"], preview.json()["invoice"]["total_amount_cents"]) == ("EUR", 900)


def test_another_tenant_sees_none_of_it(api, organization, other_tenant):
    customer, us_sub, _ = two_currency_customer(organization)
    make_wallet(customer, granted="10", currency="EUR")
    customer_bill(customer.id, at=FEB_1)
    theirs = other_tenant.client
    assert theirs.get(f"/api/v1/customers/{customer.external_id}").status_code == 404
    assert theirs.get(f"/api/v1/invoices?external_customer_id={customer.external_id}").json()["invoices"] == []
    wallets = theirs.get(f"/api/v1/wallets?external_customer_id={customer.external_id}")
    assert (wallets.status_code, wallets.json()["code"]) == (404, "customer_not_found")
    assert theirs.get(f"/api/v1/subscriptions/{us_sub.external_id}").status_code == 404
    for path in ("gross_revenue", "invoice_collection", "mrr"):
        rows = next(iter(theirs.get(f"/api/v1/analytics/{path}").json().values()))
        assert all(row.get("amount_cents") in (None, 0) for row in rows), (path, rows)


def test_a_wallets_ongoing_usage_reads_only_subscriptions_of_its_currency(organization):
    from invoicing.credits.services.wallets import current_usage_cents

    customer, _, _ = two_currency_customer(organization)
    euros = make_wallet(customer, granted="10", currency="EUR")
    dollars = make_wallet(customer, granted="10", currency="USD")
    mid_january = at(2024, 1, 20)
    assert current_usage_cents(dollars, mid_january) == 300  # the USD subscription's 3 calls
    assert current_usage_cents(euros, mid_january) == 0  # the EUR plan has no usage charge


def test_lists_filter_by_currency(api, organization, other_tenant):
    """Lago's `currency` filter on subscriptions (the plan's), wallets and payment requests."""
    from tests.factories.payments import finalized_invoice

    make_plan(organization, amount_cents=1000, currency="USD", code="basic_usd")
    make_plan(organization, amount_cents=900, currency="EUR", code="basic_eur")
    _subscribe(api, "basic_usd", "m-1")
    _subscribe(api, "basic_eur", "m-2")

    def ids(path: str, root: str, key: str = "external_id") -> list[str]:
        response = api.get(path)
        assert response.status_code == 200, response.content
        return sorted(str(row[key]) for row in response.json()[root])

    assert ids("/api/v1/subscriptions?currency=EUR", "subscriptions") == ["m-2"]
    assert ids("/api/v1/customers/multi/subscriptions?currency=USD", "subscriptions") == ["m-1"]
    assert ids("/api/v1/subscriptions?currency=GBP", "subscriptions") == []
    customer = Customer.objects.get(organization=organization, external_id="multi")
    make_wallet(customer, granted="1", currency="EUR")
    assert [
        w["currency"] for w in api.get("/api/v1/wallets?external_customer_id=multi&currency=EUR").json()["wallets"]
    ] == ["EUR"]
    assert api.get("/api/v1/wallets?external_customer_id=multi&currency=USD").json()["wallets"] == []
    for currency in ("USD", "EUR"):
        overdue = finalized_invoice(customer, 500, currency=currency, payment_overdue=True)
        body = {"external_customer_id": "multi", "lago_invoice_ids": [str(overdue.id)]}
        assert api.post("/api/v1/payment_requests", {"payment_request": body}, format="json").status_code == 200
    requests = api.get("/api/v1/payment_requests?currency=EUR").json()["payment_requests"]
    assert [r["amount_currency"] for r in requests] == ["EUR"]
    assert len(api.get("/api/v1/payment_requests").json()["payment_requests"]) == 2
    assert other_tenant.client.get("/api/v1/payment_requests?currency=EUR").json()["payment_requests"] == []
    assert other_tenant.client.get("/api/v1/subscriptions?currency=EUR").json()["subscriptions"] == []


def test_a_plan_change_to_another_currency_closes_in_the_old_and_bills_in_the_new(
    api, organization, django_capture_on_commit_callbacks
):
    """Lago accepts a plan change across currencies: the old subscription's closing invoice is in
    its currency, the new subscription's invoices in the new plan's."""
    make_plan(organization, amount_cents=1000, currency="USD", code="basic_usd", pay_in_advance=True)
    make_plan(organization, amount_cents=3000, currency="EUR", code="pro_eur", pay_in_advance=True)
    with django_capture_on_commit_callbacks(execute=True):  # in-advance starts are billed at once
        assert _subscribe(api, "basic_usd", "m-1").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        changed = _subscribe(api, "pro_eur", "m-1")  # an upgrade (a larger yearly amount): at once
    assert changed.status_code == 200, changed.content
    assert (changed.json()["subscription"]["plan_code"], changed.json()["subscription"]["plan_amount_currency"]) == (
        "pro_eur",
        "EUR",
    )
    customer = Customer.objects.get(organization=organization, external_id="multi")
    currencies = set(Invoice.objects.filter(customer=customer).values_list("currency", flat=True))
    assert currencies == {"USD", "EUR"}  # the USD opening invoice, the EUR plan's prorated start
    for invoice in Invoice.objects.filter(customer=customer):  # the USD closing invoice has no fee
        assert set(invoice.fees.values_list("currency", flat=True)) <= {invoice.currency}
    eur = Invoice.objects.get(customer=customer, currency="EUR")
    assert set(eur.fees.values_list("fee_type", flat=True)) == {"subscription"} and eur.total_amount_cents > 0
    from invoicing.credits.models import CreditNote

    assert set(CreditNote.objects.filter(customer=customer).values_list("currency", flat=True)) <= {"USD"}
    assert customer.currency == "USD"
