"""Invoice preview (`POST /invoices/preview`): the billing run's numbers, and nothing persisted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.apps import apps

from catalog.models import AppliedCoupon, Coupon
from customers.models import Customer as CustomerModel
from invoicing.api.preview import preview_input
from invoicing.billing.run import customer_bill
from invoicing.services.preview import invoice_preview
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
from tests.factories.webhooks import WebhookEndpointFactory

pytestmark = pytest.mark.django_db

COUNTED_APPS = ("invoicing", "customers", "subscriptions", "catalog", "webhooks", "metering", "audit")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for label in COUNTED_APPS
        if label in {c.label for c in apps.get_app_configs()}
        for model in apps.get_app_config(label).get_models()
    }


@pytest.fixture
def webhooks_on(organization):
    return WebhookEndpointFactory(organization=organization)


def test_new_customer_new_in_advance_plan(api, organization, webhooks_on):
    """terminate_pay_in_advance_spec's first invoice: 5,000 in advance from 8 Feb 2023 → 3,750 + 20 % = 4,500."""
    plan = make_plan(organization, amount_cents=5000, pay_in_advance=True, code="premium")
    tax_plan(plan, make_tax(organization, "20"))
    before = row_counts()
    response = api.post(
        "/api/v1/invoices/preview",
        {
            "customer": {"name": "Gavin Belson", "currency": "USD", "country": "us"},
            "plan_code": "premium",
            "billing_time": "calendar",
            "subscription_at": "2023-02-08T10:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    invoice = response.json()["invoice"]
    assert invoice["fees_amount_cents"] == 3750
    assert invoice["taxes_amount_cents"] == 750
    assert invoice["total_amount_cents"] == 4500
    assert invoice["issuing_date"] == "2023-02-08"
    assert invoice["number"].endswith("-DRAFT") and invoice["sequential_id"] is None
    assert invoice["customer"]["name"] == "Gavin Belson"
    [fee] = invoice["fees"]
    assert (fee["item"]["type"], fee["amount_cents"]) == ("subscription", 3750)
    assert invoice["billing_periods"][0]["invoicing_reason"] == "subscription_starting"
    assert row_counts() == before  # no invoice, fee, customer, subscription, webhook or audit row


def test_new_in_arrears_plan_is_billed_at_the_end_of_its_first_period(organization):
    plan = make_plan(organization, amount_cents=3100, code="arrears")
    invoice = invoice_preview(
        organization,
        preview_input({"customer": {"name": "Prospect"}, "plan_code": "arrears", "subscription_at": "2023-12-18"}),
        now=at(2023, 12, 1),
    )
    assert invoice["issuing_date"] == "2024-01-01"
    assert invoice["fees_amount_cents"] == 1400  # 14/31 of 3,100
    assert invoice["customer"]["name"] == "Prospect"
    assert plan.amount_cents == 3100


def _customer_with_usage(organization):
    customer = make_customer(organization, external_id="acme")
    plan = make_plan(organization, amount_cents=1000, code="base")
    tax_plan(plan, make_tax(organization, "10"))
    metric = make_metric(organization, "calls")
    make_charge(plan, metric, properties={"amount": "0.25"})
    sub = subscribe(customer, plan, at(2024, 1, 1), external_id="acme_sub")
    add_events(sub, "calls", [at(2024, 1, 2)] * 8)
    return customer, sub


def test_existing_subscription_previews_the_invoice_the_run_will_produce(organization, webhooks_on):
    customer, _ = _customer_with_usage(organization)
    before = row_counts()
    preview = invoice_preview(
        organization,
        preview_input({"customer": {"external_id": "acme"}, "subscriptions": {"external_ids": ["acme_sub"]}}),
        now=at(2024, 1, 20),
    )
    assert row_counts() == before
    assert (preview["fees_amount_cents"], preview["taxes_amount_cents"], preview["total_amount_cents"]) == (
        1200,
        120,
        1320,
    )
    [real] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert preview["total_amount_cents"] == real.total_amount_cents
    assert sorted(f["amount_cents"] for f in preview["fees"]) == sorted(f.amount_cents for f in real.fees.all())
    assert real.number != preview["number"]  # the preview took no number


def test_termination_preview_is_the_closing_invoice(organization):
    """progressive_billing_spec's closing invoice: 3,100 monthly in arrears, terminated 18 Dec → 1,800."""
    customer = make_customer(organization, external_id="closing")
    plan = make_plan(organization, amount_cents=3100)
    sub = subscribe(customer, plan, at(2023, 12, 1), external_id="closing_sub")
    preview = invoice_preview(
        organization,
        preview_input(
            {
                "customer": {"external_id": "closing"},
                "subscriptions": {"external_ids": ["closing_sub"], "terminated_at": "2023-12-18T00:00:00Z"},
            }
        ),
        now=at(2023, 12, 10),
    )
    assert preview["fees_amount_cents"] == 1800
    assert preview["billing_periods"][0]["invoicing_reason"] == "subscription_terminating"
    sub.refresh_from_db()
    assert sub.status == "active" and sub.terminated_at is None


def test_upgrade_preview_closes_the_old_plan_and_starts_the_new_one(organization):
    """Upgrade in arrears on 15 January (docs): old plan 14/31 × 100 € = 4,516; new in-advance plan from the 15th."""
    customer = make_customer(organization, external_id="upg")
    old = make_plan(organization, amount_cents=10000, code="small")
    make_plan(organization, amount_cents=20000, code="big", pay_in_advance=True)
    sub = subscribe(customer, old, at(2024, 1, 1), external_id="upg_sub")
    preview = invoice_preview(
        organization,
        preview_input(
            {"customer": {"external_id": "upg"}, "subscriptions": {"external_ids": ["upg_sub"], "plan_code": "big"}}
        ),
        now=at(2024, 1, 15, 10),
    )
    amounts = sorted(f["amount_cents"] for f in preview["fees"])
    assert amounts == [4516, 10968]  # 14/31 of 10,000 and 17/31 of 20,000
    sub.refresh_from_db()
    assert sub.plan_id == old.id and sub.status == "active"


def test_inline_coupon_replaces_the_customers_and_consumes_nothing(organization):
    customer, _ = _customer_with_usage(organization)
    existing = Coupon.objects.create(
        organization=organization,
        name="Old",
        code="old",
        coupon_type="fixed_amount",
        amount_cents=100,
        amount_currency="USD",
        expiration="no_expiration",
    )
    applied = AppliedCoupon.objects.create(
        organization=organization,
        customer=customer,
        coupon=existing,
        amount_cents=100,
        amount_cents_remaining=100,
        amount_currency="USD",
        frequency="once",
    )
    data = {"customer": {"external_id": "acme"}, "subscriptions": {"external_ids": ["acme_sub"]}}
    with_old = invoice_preview(organization, preview_input(data), now=at(2024, 1, 20))
    assert with_old["coupons_amount_cents"] == 100
    assert with_old["total_amount_cents"] == 1210  # (1,200 − 100) + 10 %
    inline = invoice_preview(
        organization,
        preview_input(
            {
                **data,
                "coupons": [
                    {"code": "startup_deal", "name": "Startup", "coupon_type": "percentage", "percentage_rate": "25"}
                ],
            }
        ),
        now=at(2024, 1, 20),
    )
    assert inline["coupons_amount_cents"] == 300
    assert inline["total_amount_cents"] == 990  # (1,200 − 300) + 10 %
    assert [c["item"]["code"] for c in inline["credits"]] == ["startup_deal"]
    applied.refresh_from_db()
    assert (applied.status, applied.amount_cents_remaining) == ("active", 100)
    assert not Coupon.objects.filter(code="startup_deal").exists()


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ({"plan_code": "premium"}, 404, {"code": "customer_not_found"}),
        ({"customer": {"name": "x"}, "plan_code": "nope"}, 404, {"code": "plan_not_found"}),
        ({"customer": {"name": "x"}}, 404, {"code": "subscription_not_found"}),
        (
            {"customer": {"name": "x"}, "plan_code": "premium", "billing_time": "weekly"},
            422,
            {"error_details": {"billing_time": ["value_is_invalid"]}},
        ),
        (
            {"customer": {"name": "x"}, "plan_code": "premium", "subscription_at": "yesterday"},
            422,
            {"error_details": {"subscription_at": ["invalid_date"]}},
        ),
        (
            {"customer": {"external_id": "acme"}, "subscriptions": {"external_ids": ["someone_else"]}},
            404,
            {"code": "subscription_not_found"},
        ),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(api, organization, body, status, expected):
    make_plan(organization, amount_cents=5000, code="premium")
    make_customer(organization, external_id="acme")
    before = row_counts()
    response = api.post("/api/v1/invoices/preview", body, format="json")
    assert response.status_code == status, response.content
    for key, value in expected.items():
        assert response.json()[key] == value
    assert row_counts() == before


def test_another_tenants_subscriptions_are_not_previewed(api, other_tenant):
    other = other_tenant.organization
    customer = make_customer(other, external_id="theirs")
    subscribe(customer, make_plan(other, amount_cents=1000), at(2024, 1, 1), external_id="their_sub")
    response = api.post(
        "/api/v1/invoices/preview",
        {"customer": {"external_id": "theirs"}, "subscriptions": {"external_ids": ["their_sub"]}},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["code"] == "customer_not_found"  # their customer is unknown here


@pytest.mark.django_db(transaction=True)
def test_lago_python_client_preview(lago):
    from lago_python_client.exceptions import LagoApiError
    from lago_python_client.models import Customer
    from lago_python_client.models.invoice import InvoicePreview

    organization = lago.organization
    plan = make_plan(organization, amount_cents=5000, pay_in_advance=True, code="lc_premium")
    tax_plan(plan, make_tax(organization, "20"))
    make_customer(organization, external_id="hooli_prospect", name="Hooli Inc", currency=None)
    before = row_counts()
    invoice = lago.client.invoices.preview(
        InvoicePreview(
            customer=Customer(external_id="hooli_prospect", name="Hooli", currency="USD"),
            plan_code="lc_premium",
            billing_time="calendar",
            subscription_at="2023-02-08T10:00:00Z",
        )
    )
    assert (invoice.fees_amount_cents, invoice.taxes_amount_cents, invoice.total_amount_cents) == (3750, 750, 4500)
    assert invoice.fees.__root__[0].amount_cents == 3750
    assert invoice.customer.name == "Hooli"  # the attributes sent apply to the preview, as in Lago
    assert row_counts() == before
    assert CustomerModel.objects.get(external_id="hooli_prospect").name == "Hooli Inc"  # and nothing is saved

    # An unknown customer is not previewed: 404 customer_not_found, as Lago answers.
    with pytest.raises(LagoApiError) as refused:
        lago.client.invoices.preview(
            InvoicePreview(customer=Customer(external_id="nobody", currency="USD"), plan_code="lc_premium")
        )
    assert refused.value.status_code == 404
    assert refused.value.response["code"] == "customer_not_found"
    assert row_counts() == before


def test_downgrade_preview_is_the_period_end_invoice_with_the_new_plan(organization):
    """Downgrade on 15 January (at the period end): 1 February bills January's 20,000 in arrears and
    the new in-advance plan's first month, 10,000."""
    customer = make_customer(organization, external_id="dn")
    old = make_plan(organization, amount_cents=20000, code="big")
    make_plan(organization, amount_cents=10000, code="small", pay_in_advance=True)
    sub = subscribe(customer, old, at(2024, 1, 1), external_id="dn_sub")
    before = row_counts()
    preview = invoice_preview(
        organization,
        preview_input(
            {"customer": {"external_id": "dn"}, "subscriptions": {"external_ids": ["dn_sub"], "plan_code": "small"}}
        ),
        now=at(2024, 1, 15, 10),
    )
    assert preview["issuing_date"] == "2024-02-01"
    assert sorted((f["item"]["code"], f["amount_cents"]) for f in preview["fees"]) == [("big", 20000), ("small", 10000)]
    assert sorted(b["invoicing_reason"] for b in preview["billing_periods"]) == [
        "subscription_starting",
        "subscription_terminating",
    ]
    assert row_counts() == before
    sub.refresh_from_db()
    assert (sub.status, sub.plan_id) == ("active", old.id)


def test_unknown_customer_external_id_is_not_previewed(api, organization):
    """Lago answers 404 customer_not_found for an `external_id` no customer has; bxb used to preview
    a made-up customer under that id."""
    make_plan(organization, amount_cents=5000, pay_in_advance=True, code="premium")
    before = row_counts()
    response = api.post(
        "/api/v1/invoices/preview",
        {"customer": {"external_id": "nobody", "currency": "USD"}, "plan_code": "premium"},
        format="json",
    )
    assert response.status_code == 404, response.content
    assert response.json() == {"status": 404, "error": "Not Found", "code": "customer_not_found"}
    assert row_counts() == before


def test_inline_attributes_apply_to_an_existing_customer_and_a_new_one(api, organization):
    make_plan(organization, amount_cents=5000, pay_in_advance=True, code="premium")
    make_customer(organization, external_id="acme", name="Acme", currency="USD", city="Paris")
    before = row_counts()
    body = {
        "customer": {"external_id": "acme", "name": "Acme Preview", "city": None, "country": "de",
                     "shipping_address": {"city": "Berlin", "country": "DE"}},
        "plan_code": "premium",
    }  # fmt: skip
    shown = api.post("/api/v1/invoices/preview", body, format="json").json()["invoice"]["customer"]
    assert (shown["external_id"], shown["name"], shown["city"], shown["country"]) == (
        "acme",
        "Acme Preview",
        "Paris",
        "DE",
    )
    assert shown["shipping_address"]["city"] == "Berlin" and shown["shipping_address"]["state"] is None
    body = {"customer": {"external_id": None, "name": "New", "currency": "USD"}, "plan_code": "premium"}
    shown = api.post("/api/v1/invoices/preview", body, format="json").json()["invoice"]["customer"]
    assert shown["name"] == "New" and shown["external_id"].startswith("preview_")
    assert row_counts() == before
    assert CustomerModel.objects.get(external_id="acme").name == "Acme"
