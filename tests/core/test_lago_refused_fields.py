"""Nothing accepted and ignored: a Lago request field bxb does not implement is refused with 422
`value_is_not_supported` naming it, and nothing changes; the values that ask for bxb's own
behaviour (absent, null, empty, the default) are accepted (docs/lago-compatibility.md)."""

from __future__ import annotations

import json

import pytest
from django.apps import apps

from billing_project.core.api.unsupported import LagoOnly, unsupported_errors
from catalog.models import ChargeFilter
from tests.factories.catalog import BillableMetricFilterFactory
from tests.factories.invoicing import make_customer, make_metric
from tests.factories.payments import finalized_invoice

pytestmark = pytest.mark.django_db

COUNTED_APPS = ("invoicing", "customers", "subscriptions", "catalog", "payments", "usage_monitoring")


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for label in COUNTED_APPS
        for model in apps.get_app_config(label).get_models()
    }


@pytest.fixture
def world(api, organization):
    """A customer, a plan with a charge and a filter, a subscription, a wallet and an invoice."""
    metric = make_metric(organization, "calls")
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["eu", "us"])
    customer = make_customer(organization, external_id="c1", currency="USD")
    plan = {
        "name": "P", "code": "p", "interval": "monthly", "amount_cents": 1000, "amount_currency": "USD",
        "charges": [{"billable_metric_id": str(metric.id), "code": "c", "charge_model": "standard",
                     "properties": {"amount": "1"}, "filters": [{"values": {"region": ["eu"]},
                                                                 "properties": {"amount": "2"}}]}],
    }  # fmt: skip
    assert api.post("/api/v1/plans", {"plan": plan}, format="json").status_code == 200
    subscription = {"subscription": {"external_customer_id": "c1", "plan_code": "p", "external_id": "s1"}}
    assert api.post("/api/v1/subscriptions", subscription, format="json").status_code == 200
    wallet = {"wallet": {"external_customer_id": "c1", "rate_amount": "1", "currency": "USD", "granted_credits": "1"}}
    wallet_id = api.post("/api/v1/wallets", wallet, format="json").json()["wallet"]["lago_id"]
    invoice = finalized_invoice(customer, 500, with_fee=True)
    return {
        "metric": str(metric.id),
        "filter": str(ChargeFilter.objects.get(charge__code="c", charge__plan__parent__isnull=True).id),
        "wallet": wallet_id,
        "invoice": str(invoice.id),
    }


PROVIDER = {"payment_method_type": "provider", "payment_method_id": None}
PRICING_UNIT = {"code": "credits", "conversion_rate": "0.5"}
NO_SECTION = {"invoice_custom_section_codes": [], "skip_invoice_custom_sections": False}


def _customer(**extra):
    return {"customer": {"external_id": "c1", "name": "Changed", **extra}}


def _new_plan(**extra):
    return {"plan": {"name": "Q", "code": "q", "interval": "monthly", "amount_cents": 0, "amount_currency": "USD",
                     **extra}}  # fmt: skip


def _subscription(**extra):
    return {"subscription": {"external_customer_id": "c1", "plan_code": "p", "external_id": "s2", **extra}}


def _one_off(**extra):
    invoice = {"external_customer_id": "c1", "currency": "USD",
               "fees": [{"add_on_code": "setup", "unit_amount_cents": 100, "units": 1}], **extra}  # fmt: skip
    return {"invoice": invoice}


def _wallet(**extra):
    return {"wallet": {"external_customer_id": "c1", "rate_amount": "1", "currency": "USD", "code": "w2",
                       "granted_credits": "1", **extra}}  # fmt: skip


# (method, path, body, field named in error_details, a GET that must answer the same after)
REFUSED = [
    ("post", "/customers", _customer(account_type="partner"), "account_type", "/customers/c1"),
    ("post", "/customers", _customer(integration_customers=[{"integration_type": "netsuite", "integration_code": "ns"}]),
     "integration_customers", "/customers/c1"),
    ("post", "/customers", _customer(billing_configuration={"subscription_invoice_issuing_date_anchor":
                                                            "current_period_end"}),
     "billing_configuration.subscription_invoice_issuing_date_anchor", "/customers/c1"),
    ("post", "/customers", _customer(billing_configuration={"subscription_invoice_issuing_date_adjustment":
                                                            "keep_anchor"}),
     "billing_configuration.subscription_invoice_issuing_date_adjustment", "/customers/c1"),
    ("post", "/plans", _new_plan(charges=[{"billable_metric_id": "{metric}", "charge_model": "standard",
                                           "properties": {"amount": "1"}, "applied_pricing_unit": PRICING_UNIT}]),
     "charges.0.applied_pricing_unit", "/plans"),
    ("put", "/plans/p", {"plan": {"name": "P2", "cascade_updates": True, "charges": []}}, "cascade_updates", "/plans/p"),
    ("post", "/plans/p/charges", {"charge": {"billable_metric_id": "{metric}", "charge_model": "standard",
                                             "properties": {"amount": "1"}, "applied_pricing_unit": PRICING_UNIT}},
     "applied_pricing_unit", "/plans/p/charges"),
    ("post", "/plans/p/charges", {"charge": {"billable_metric_id": "{metric}", "charge_model": "standard",
                                             "properties": {"amount": "1"}, "cascade_updates": True}},
     "cascade_updates", "/plans/p/charges"),
    ("put", "/plans/p/charges/c", {"charge": {"invoice_display_name": "X", "cascade_updates": True}},
     "cascade_updates", "/plans/p/charges/c"),
    ("delete", "/plans/p/charges/c", {"charge": {"cascade_updates": True}}, "charge.cascade_updates",
     "/plans/p/charges/c"),
    ("post", "/plans/p/charges/c/filters", {"filter": {"values": {"region": ["us"]}, "properties": {"amount": "3"},
                                                       "cascade_updates": True}},
     "cascade_updates", "/plans/p/charges/c/filters"),
    ("put", "/plans/p/charges/c/filters/{filter}", {"filter": {"invoice_display_name": "X", "cascade_updates": True}},
     "cascade_updates", "/plans/p/charges/c/filters/{filter}"),
    ("delete", "/plans/p/charges/c/filters/{filter}", {"filter": {"cascade_updates": True}}, "filter.cascade_updates",
     "/plans/p/charges/c/filters/{filter}"),
    ("post", "/subscriptions", {**_subscription(), "authorization": {"amount_cents": 100, "amount_currency": "USD"}},
     "authorization", "/subscriptions"),
    ("post", "/subscriptions", _subscription(activation_rules=[{"type": "payment", "timeout_hours": 48}]),
     "activation_rules", "/subscriptions"),
    ("post", "/subscriptions", _subscription(consolidate_invoice=False), "consolidate_invoice", "/subscriptions"),
    ("put", "/subscriptions/s1/charges/c", {"charge": {"properties": {"amount": "3"}, "applied_pricing_unit": PRICING_UNIT}},
     "applied_pricing_unit", "/subscriptions/s1/charges/c"),
    ("post", "/invoices", _one_off(skip_psp=True), "skip_psp", "/invoices"),
    ("post", "/invoices/{invoice}/void", {"generate_credit_note": True}, "generate_credit_note", "/invoices/{invoice}"),
    ("post", "/invoices/{invoice}/void", {"refund_amount": 100}, "refund_amount", "/invoices/{invoice}"),
    ("post", "/invoices/preview", {"customer": {"external_id": "c1", "integration_customers": [{"integration_code": "a"}]},
                                   "plan_code": "p"}, "customer.integration_customers", "/invoices"),
    ("post", "/wallets", _wallet(recurring_transaction_rules=[{"trigger": "threshold", "threshold_credits": "1",
                                                               "method": "target", "target_ongoing_balance": "10",
                                                               "grants_target_top_up": True}]),
     "recurring_transaction_rules.0.grants_target_top_up", "/wallets?external_customer_id=c1"),
]  # fmt: skip


def _fill(value, ids):
    return json.loads(json.dumps(value).replace("{metric}", ids["metric"]).replace("{filter}", ids["filter"])
                      .replace("{wallet}", ids["wallet"]).replace("{invoice}", ids["invoice"]))  # fmt: skip


def _call(api, method, path, body):
    return getattr(api, method)(f"/api/v1{path}", body, format="json")


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "probe"), REFUSED, ids=[f"{c[0]} {c[1]} {c[3]}" for c in REFUSED]
)
def test_a_lago_field_bxb_does_not_implement_is_refused_and_changes_nothing(
    api, world, method, path, body, field, probe
):
    path, body, probe = _fill(path, world), _fill(body, world), _fill(probe, world)
    before, shown = row_counts(), api.get(f"/api/v1{probe}").json()
    response = _call(api, method, path, body)
    assert response.status_code == 422, response.content
    assert response.json() == {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {field: ["value_is_not_supported"]},
    }
    assert row_counts() == before
    assert api.get(f"/api/v1{probe}").json() == shown


ACCEPTED = [
    ("post", "/customers", _customer(account_type="customer", skip_invoice_custom_sections=False,
                                     integration_customers=[], invoice_custom_section_codes=[], billing_entity_code=None,
                                     billing_configuration={"subscription_invoice_issuing_date_anchor": "next_period_start",
                                                            "subscription_invoice_issuing_date_adjustment":
                                                                "align_with_finalization_date"})),
    ("put", "/organizations", {"organization": {"email_settings": []}}),
    ("put", "/organizations", {"organization": {"email_settings": ["invoice.finalized", "payment_receipt.created"]}}),
    ("post", "/plans", _new_plan(fixed_charges=[], cascade_updates=True)),  # nothing to carry over on creation
    ("put", "/plans/p", {"plan": {"name": "P2", "cascade_updates": False, "fixed_charges": None}}),
    ("put", "/plans/p/charges/c", {"charge": {"invoice_display_name": "X", "cascade_updates": False,
                                              "applied_pricing_unit": None}}),
    ("delete", "/plans/p/charges/c/filters/{filter}", {"filter": {"cascade_updates": False}}),
    ("post", "/subscriptions", {**_subscription(consolidate_invoice=True, payment_method=PROVIDER,
                                                invoice_custom_section=NO_SECTION, activation_rules=[],
                                                purchase_order_number=None), "authorization": None}),
    ("post", "/invoices/{invoice}/void", {"generate_credit_note": False, "refund_amount": 0, "credit_amount": 0}),
    ("post", "/wallet_transactions", {"wallet_transaction": {"wallet_id": "{wallet}", "granted_credits": "1",
                                                              "payment_method": {"payment_method_type": "provider"}}}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body"), ACCEPTED, ids=[f"{c[0]} {c[1]}" for c in ACCEPTED])
def test_values_asking_for_bxbs_own_behaviour_are_accepted(api, world, method, path, body):
    response = _call(api, method, _fill(path, world), _fill(body, world))
    assert response.status_code == 200, response.content


def test_presentation_group_keys_are_refused_not_stored(api, world):
    plan = _new_plan(charges=[{"billable_metric_id": world["metric"], "charge_model": "standard",
                               "properties": {"amount": "1", "presentation_group_keys": [{"value": "region"}]}}])  # fmt: skip
    response = api.post("/api/v1/plans", plan, format="json")
    assert response.status_code == 422, response.content
    assert ["value_is_not_supported"] in response.json()["error_details"].values()
    assert api.get("/api/v1/plans/q").status_code == 404


def test_put_subscription_body_status_addresses_the_pending_subscription(api, world, organization):
    """Lago's `status` in the PUT body chooses the pending subscription (it was ignored: the active
    one was updated)."""
    small = {"name": "S", "code": "small", "interval": "monthly", "amount_cents": 10, "amount_currency": "USD"}
    api.post("/api/v1/plans", {"plan": small}, format="json")
    downgrade = {"subscription": {"external_customer_id": "c1", "plan_code": "small", "external_id": "s1"}}
    assert api.post("/api/v1/subscriptions", downgrade, format="json").status_code == 200
    assert api.get("/api/v1/subscriptions/s1", {"status": "pending"}).json()["subscription"]["plan_code"] == "small"
    response = api.put(
        "/api/v1/subscriptions/s1", {"status": "pending", "subscription": {"name": "Next"}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["subscription"]["status"] == "pending"
    assert api.get("/api/v1/subscriptions/s1", {"status": "pending"}).json()["subscription"]["name"] == "Next"
    assert api.get("/api/v1/subscriptions/s1").json()["subscription"]["name"] != "Next"
    bad = api.put("/api/v1/subscriptions/s1", {"status": ["pending"], "subscription": {"name": "N"}}, format="json")
    assert bad.status_code == 422 and bad.json()["error_details"] == {"status": ["value_is_invalid"]}


def test_subscriptions_say_they_are_consolidated(api, world):
    assert api.get("/api/v1/subscriptions/s1").json()["subscription"]["consolidate_invoice"] is True


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"a": None, "b": "", "c": [], "d": {}, "e": False}, {}),
        ({"a": 0}, {"a": ["value_is_not_supported"]}),  # 0 is not `false`
        ({"a": True}, {"a": ["value_is_not_supported"]}),
        ({"a": {"x": [], "y": False, "z": None}}, {}),
        ({"a": {"x": ["v"]}}, {"a": ["value_is_not_supported"]}),
        ({"list": [{"a": None}, {"a": "x"}, "not an object"]}, {"list.1.a": ["value_is_not_supported"]}),
        ({"list": "not a list"}, {}),
        ({"nested": {"a": "x"}}, {"nested.a": ["value_is_not_supported"]}),
        ({"pm": {"payment_method_type": "provider", "payment_method_id": None}}, {}),
        ({"pm": {"payment_method_type": "provider", "payment_method_id": "id"}}, {"pm": ["value_is_not_supported"]}),
        ({"flag": False}, {"flag": ["value_is_not_supported"]}),
        ({"flag": True}, {}),
        ({"flag": None}, {}),
    ],
)
def test_unsupported_errors(payload, errors):
    fields = [
        LagoOnly("a", "r"),
        LagoOnly("b", "r"),
        LagoOnly("c", "r"),
        LagoOnly("d", "r"),
        LagoOnly("e", "r"),
        LagoOnly("list[].a", "r"),
        LagoOnly("nested.a", "r"),
        LagoOnly("pm", "r", accepted=({"payment_method_type": "provider"},)),
        LagoOnly("flag", "r", accepted=(True,), empty_accepted=False),
    ]
    assert unsupported_errors(payload, fields) == errors


def test_every_refused_field_is_listed_in_the_docs():
    import importlib
    from pathlib import Path

    from django.conf import settings

    text = (Path(settings.BASE_DIR) / "docs" / "lago-compatibility.md").read_text()
    modules = ("catalog.api.serializers", "customers.api.serializers", "customers.api.entities", "subscriptions.api.serializers",
               "invoicing.api.serializers", "invoicing.credits.api.serializers", "payments.api.serializers")  # fmt: skip
    declared = [
        field
        for name in modules
        for attribute, value in vars(importlib.import_module(name)).items()
        if attribute.endswith("LAGO_ONLY")
        for field in value
    ]
    assert len(declared) > 20  # the declarations were found (fewer as fields become supported)
    for field in declared:
        assert isinstance(field, LagoOnly) and field.reason
        assert field.path.split(".")[-1].replace("[]", "") in text, field.path
