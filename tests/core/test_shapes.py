"""One definition per response shape (billing_project/core/api/shapes.py): the OpenAPI component is
derived from the TypedDict the renderer returns, and real answers have exactly the documented keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, NotRequired, TypedDict
from zoneinfo import ZoneInfo

import pytest
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework import serializers

from billing_project.core.api.shapes import Date, DateTime, Help, Uuid, keys_of, schema_serializer, utc_iso
from tests.factories.metering import make_metric

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(schema, node["allOf"][0])
    return node


def mismatches(schema: dict, node: dict, value: Any, where: str = "$") -> list[str]:
    """Where `value` has keys the schema does not document, or lacks keys it requires."""
    if value is None:
        nullable = node.get("nullable") or _resolve(schema, node).get("nullable") or not node
        return [] if nullable else [f"{where}: null, not nullable"]
    node = _resolve(schema, node)
    if node.get("type") == "array" and isinstance(value, list):
        return [
            p for i, item in enumerate(value) for p in mismatches(schema, node.get("items", {}), item, f"{where}[{i}]")
        ]
    properties = node.get("properties")
    if properties is None or not isinstance(value, dict):
        return []
    problems = [f"{where}.{key}: not in the schema" for key in sorted(set(value) - set(properties))]
    problems += [f"{where}.{key}: required, missing" for key in node.get("required", []) if key not in value]
    for key, item in value.items():
        if key in properties:
            problems += mismatches(schema, properties[key], item, f"{where}.{key}")
    return problems


def response_mismatches(schema: dict, path: str, method: str, response: Any) -> list[str]:
    operation = schema["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], (path, method, status)
    return mismatches(schema, operation["responses"][status]["content"]["application/json"]["schema"], response.json())


# --- the derivation ---------------------------------------------------------------------------


class ItemShape(TypedDict):
    code: str


class SampleShape(TypedDict):
    """A sample."""

    lago_id: Uuid
    when: DateTime | None
    day: Date
    count: Annotated[int, Help("How many.")]
    rate: float
    flag: bool
    tags: list[str]
    items: list[ItemShape]
    item: ItemShape | None
    extra: dict[str, Any]
    labels: dict[str, str]
    anything: Any
    optional: NotRequired[str]


def test_a_shape_becomes_a_serializer_with_its_fields():
    serializer = schema_serializer(SampleShape)
    assert serializer.__name__ == "SampleOutput" and serializer.__doc__ == "A sample."
    assert schema_serializer(SampleShape) is serializer  # one class per shape and name
    fields = serializer().fields
    assert isinstance(fields["lago_id"], serializers.UUIDField)
    assert isinstance(fields["when"], serializers.DateTimeField) and fields["when"].allow_null
    assert isinstance(fields["day"], serializers.DateField)
    assert isinstance(fields["count"], serializers.IntegerField) and fields["count"].help_text == "How many."
    assert isinstance(fields["rate"], serializers.FloatField)
    assert isinstance(fields["flag"], serializers.BooleanField)
    assert isinstance(fields["tags"], serializers.ListField)
    assert isinstance(fields["items"], serializers.ListSerializer)
    assert type(fields["items"].child).__name__ == "ItemOutput"
    assert type(fields["item"]).__name__ == "ItemOutput" and fields["item"].allow_null
    assert isinstance(fields["extra"], serializers.DictField)
    assert isinstance(fields["labels"], serializers.DictField)
    assert isinstance(fields["labels"].child, serializers.CharField)
    assert isinstance(fields["anything"], serializers.JSONField)
    assert not fields["optional"].required and fields["flag"].required
    assert keys_of(SampleShape) == set(SampleShape.__annotations__)


def test_what_a_shape_cannot_say_is_refused():
    class Bad(TypedDict):
        either: int | str

    with pytest.raises(TypeError, match="union"):
        schema_serializer(Bad)
    with pytest.raises(TypeError, match="TypedDict"):
        schema_serializer(dict)


def test_the_matcher_finds_extra_and_missing_keys(schema):
    node = {"$ref": "#/components/schemas/DuplicateOutput"}
    assert mismatches(schema, node, {"index": 0, "transaction_id": "t", "external_subscription_id": "s"}) == []
    assert mismatches(schema, node, {"index": 0, "transaction_id": "t", "other": 1}) == [
        "$.other: not in the schema",
        "$.external_subscription_id: required, missing",
    ]


# --- real answers -----------------------------------------------------------------------------


def _event(transaction_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "external_subscription_id": "sub_1",
        "code": "calls",
        "timestamp": int(datetime(2024, 3, 1, tzinfo=UTC).timestamp()),
        "properties": {"value": 2},
        **extra,
    }


def test_events_answers_match_their_schema(schema, tenant, api):
    make_metric(tenant.organization, "calls", "sum_agg", field_name="value")
    checks = [
        ("/api/v1/events", "post", api.post("/api/v1/events", {"event": _event("a")}, format="json")),
        (
            "/api/v1/events/batch",
            "post",
            api.post("/api/v1/events/batch", {"events": [_event("b"), _event("a"), _event("c")]}, format="json"),
        ),
        ("/api/v1/events", "get", api.get("/api/v1/events")),
        ("/api/v1/events/{transaction_id}", "get", api.get("/api/v1/events/a")),
        ("/api/v1/event_errors", "get", api.get("/api/v1/event_errors")),
    ]
    api.post("/api/v1/events", {"event": _event("x", code="unknown")}, format="json")
    checks.append(("/api/v1/event_errors", "get", api.get("/api/v1/event_errors")))
    for path, method, response in checks:
        assert response.status_code == 200, (path, response.content)
        assert response_mismatches(schema, path, method, response) == [], (path, method)
    assert api.get("/api/v1/event_errors").json()["event_errors"], "an error row was listed"


def test_payments_answers_match_their_schema(schema, tenant, api):
    from tests.factories.customers import CustomerFactory
    from tests.factories.payments import finalized_invoice

    customer = CustomerFactory(organization=tenant.organization)
    invoice = finalized_invoice(customer, 600, payment_overdue=True)
    body = {"payment_request": {"external_customer_id": customer.external_id, "lago_invoice_ids": [str(invoice.id)]}}
    created = api.post("/api/v1/payment_requests", body, format="json")
    assert created.status_code == 200, created.content
    assert created.json()["payment_request"]["invoices"]
    payment = api.post(
        "/api/v1/payments",
        {"payment": {"invoice_id": str(invoice.id), "amount_cents": 100, "reference": "wire"}},
        format="json",
    )
    checks = [
        ("/api/v1/payment_requests", "post", created),
        ("/api/v1/payments", "post", payment),
        ("/api/v1/payment_requests", "get", api.get("/api/v1/payment_requests")),
        ("/api/v1/payments", "get", api.get("/api/v1/payments")),
    ]
    for path, method, response in checks:
        assert response.status_code == 200, (path, response.content)
        assert response_mismatches(schema, path, method, response) == [], (path, method)


def test_usage_monitoring_answers_match_their_schema(schema, organization, api):
    from catalog.models import UsageThreshold
    from tests.factories.usage_monitoring import at, metered_subscription

    sub = metered_subscription(organization, started_at=at(2024, 1, 1), external_id="life", amount="1")
    UsageThreshold.objects.create(organization=organization, plan=sub.plan, amount_cents=4000)
    alert = {
        "alert_type": "current_usage_amount",
        "code": "usage_warn",
        "name": "Usage",
        "thresholds": [{"code": "warn", "value": "1000"}, {"value": "500", "recurring": True}],
    }
    base = "/api/v1/subscriptions/{external_id}"
    checks = [
        (f"{base}/alerts", "post", api.post("/api/v1/subscriptions/life/alerts", {"alert": alert}, format="json")),
        (f"{base}/alerts", "get", api.get("/api/v1/subscriptions/life/alerts")),
        (f"{base}/lifetime_usage", "get", api.get("/api/v1/subscriptions/life/lifetime_usage")),
    ]
    for path, method, response in checks:
        assert response.status_code == 200, (path, response.content)
        assert response_mismatches(schema, path, method, response) == [], (path, method)


def _checked(schema: dict, checks: list[tuple[str, str, Any]]) -> None:
    for path, method, response in checks:
        assert response.status_code == 200, (path, response.content)
        assert response_mismatches(schema, path, method, response) == [], (path, method)


def test_customers_answers_match_their_schema(schema, organization, api):
    from tests.factories.customers import CustomerMetadataFactory

    body = {
        "external_id": "shape",
        "name": "Shape",
        "currency": "EUR",
        "billing_configuration": {"invoice_grace_period": 2},
        "shipping_address": {"city": "Paris"},
    }
    created = api.post("/api/v1/customers", {"customer": body}, format="json")
    CustomerMetadataFactory(customer_id=created.json()["customer"]["lago_id"], key="k", value="v")
    _checked(
        schema,
        [
            ("/api/v1/customers", "post", created),
            ("/api/v1/customers", "get", api.get("/api/v1/customers")),
            ("/api/v1/customers/{external_id}", "get", api.get("/api/v1/customers/shape")),
        ],
    )


def test_invoices_fees_and_credit_notes_answers_match_their_schema(schema, organization, api, settings, tmp_path):
    from catalog.models import PlanTax
    from invoicing.billing.run import customer_bill
    from tests.factories.credits import make_one_off_invoice
    from tests.factories.invoicing import (
        add_events,
        make_charge,
        make_customer,
        make_metric,
        make_plan,
        make_tax,
        subscribe,
    )

    settings.MEDIA_ROOT = tmp_path
    customer = make_customer(organization, currency="USD", external_id="inv")
    plan = make_plan(organization, amount_cents=1000)
    PlanTax.objects.create(plan=plan, tax=make_tax(organization, "20"))
    make_charge(plan, make_metric(organization, "calls"), properties={"amount": "0.5"})
    sub = subscribe(customer, plan, datetime(2024, 1, 1, tzinfo=UTC), external_id="sub_inv")
    add_events(sub, "calls", [datetime(2024, 1, 3, tzinfo=UTC)] * 4)
    [billed] = customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    invoice = make_one_off_invoice(customer, 2000)
    fee = invoice.fees.get()
    note = {
        "invoice_id": str(invoice.id),
        "reason": "other",
        "credit_amount_cents": 500,
        "items": [{"fee_id": str(fee.id), "amount_cents": 500}],
    }
    created = api.post("/api/v1/credit_notes", {"credit_note": note}, format="json")
    estimate = {"invoice_id": str(invoice.id), "items": [{"fee_id": str(fee.id), "amount_cents": 100}]}
    _checked(
        schema,
        [
            ("/api/v1/invoices", "get", api.get("/api/v1/invoices")),
            ("/api/v1/invoices", "get", api.get("/api/v1/invoices", {"external_customer_id": "inv"})),
            ("/api/v1/invoices/{invoice_id}", "get", api.get(f"/api/v1/invoices/{invoice.id}")),
            ("/api/v1/invoices/{invoice_id}", "get", api.get(f"/api/v1/invoices/{billed.id}")),
            ("/api/v1/fees", "get", api.get("/api/v1/fees")),
            ("/api/v1/fees/{fee_id}", "get", api.get(f"/api/v1/fees/{fee.id}")),
            ("/api/v1/credit_notes", "post", created),
            ("/api/v1/credit_notes", "get", api.get("/api/v1/credit_notes")),
            (
                "/api/v1/credit_notes/estimate",
                "post",
                api.post("/api/v1/credit_notes/estimate", {"credit_note": estimate}, format="json"),
            ),
        ],
    )
    shown = api.get(f"/api/v1/invoices/{billed.id}").json()["invoice"]
    assert shown["fees"] and shown["billing_periods"] and shown["subscriptions"] and shown["applied_taxes"]


def test_wallets_answers_match_their_schema(schema, organization, api):
    from tests.factories.invoicing import make_customer

    customer = make_customer(organization, currency="USD", external_id="wal")
    wallet = {
        "external_customer_id": "wal",
        "rate_amount": "1",
        "currency": "USD",
        "granted_credits": "10",
        "recurring_transaction_rules": [{"trigger": "interval", "interval": "monthly", "granted_credits": "1"}],
    }
    created = api.post("/api/v1/wallets", {"wallet": wallet}, format="json")
    lago_id = created.json()["wallet"]["lago_id"]
    top_up = {"wallet_id": lago_id, "granted_credits": "2", "metadata": [{"key": "a", "value": "b"}]}
    _checked(
        schema,
        [
            ("/api/v1/wallets", "post", created),
            ("/api/v1/wallets", "get", api.get("/api/v1/wallets", {"external_customer_id": customer.external_id})),
            (
                "/api/v1/wallet_transactions",
                "post",
                api.post("/api/v1/wallet_transactions", {"wallet_transaction": top_up}, format="json"),
            ),
            (
                "/api/v1/wallets/{wallet_id}/wallet_transactions",
                "get",
                api.get(f"/api/v1/wallets/{lago_id}/wallet_transactions"),
            ),
        ],
    )
    assert created.json()["wallet"]["recurring_transaction_rules"], "a rule was rendered"


def test_entitlements_answers_match_their_schema(schema, organization, api):
    from tests.factories.entitlements import catalog, subscription_on

    subscription_on(catalog(organization), external_id="ent")
    _checked(
        schema,
        [
            ("/api/v1/features", "get", api.get("/api/v1/features")),
            ("/api/v1/features/{code}", "get", api.get("/api/v1/features/seats")),
            ("/api/v1/plans/{code}/entitlements", "get", api.get("/api/v1/plans/startup/entitlements")),
            (
                "/api/v1/subscriptions/{external_id}/entitlements",
                "get",
                api.get("/api/v1/subscriptions/ent/entitlements"),
            ),
        ],
    )


def test_customer_usage_answers_match_their_schema(schema, organization, api, monkeypatch):
    """Current, projected and past usage: one shape (`invoicing.representation.CustomerUsageShape`),
    with filters, groups and a projection, against the published schema."""
    from catalog.models import BillableMetricFilter, ChargeFilter
    from invoicing.billing.run import customer_bill
    from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: datetime(2024, 5, 20, 12, tzinfo=UTC))
    customer = make_customer(organization, external_id="use")
    plan = make_plan(organization, amount_cents=1000)
    metric = make_metric(organization, "api")
    BillableMetricFilter.objects.create(billable_metric=metric, key="region", values=["eu", "us"])
    charge = make_charge(plan, metric, properties={"amount": "1"})
    ChargeFilter.objects.create(
        organization=organization, charge=charge, values={"region": ["eu"]}, properties={"amount": "2"}
    )
    make_charge(plan, make_metric(organization, "seats"), properties={"amount": "5"}, pricing_group_keys=["team"])
    sub = subscribe(customer, plan, datetime(2024, 4, 1, tzinfo=UTC), external_id="use_sub")
    for month in (4, 5):
        add_events(sub, "api", [datetime(2024, month, 2, tzinfo=UTC)] * 2, region="eu")
        add_events(sub, "api", [datetime(2024, month, 3, tzinfo=UTC)], region="us")
        add_events(sub, "seats", [datetime(2024, month, 3, tzinfo=UTC)], team="a")
    customer_bill(customer.id, at=datetime(2024, 5, 1, 1, tzinfo=UTC))
    query = "?external_subscription_id=use_sub"
    base = "/api/v1/customers/{external_id}"
    current = api.get(f"/api/v1/customers/use/current_usage{query}")
    projected = api.get(f"/api/v1/customers/use/projected_usage{query}")
    past = api.get(f"/api/v1/customers/use/past_usage{query}")
    _checked(
        schema,
        [
            (f"{base}/current_usage", "get", current),
            (f"{base}/projected_usage", "get", projected),
            (f"{base}/past_usage", "get", past),
        ],
    )
    charges = {c["billable_metric"]["code"]: c for c in projected.json()["customer_projected_usage"]["charges_usage"]}
    assert charges["api"]["filters"] and charges["seats"]["grouped_usage"] and "projected_units" in charges["api"]
    assert "projected_units" not in current.json()["customer_usage"]["charges_usage"][0]
    [period] = past.json()["usage_periods"]
    [api_usage] = [c for c in period["charges_usage"] if c["billable_metric"]["code"] == "api"]
    assert api_usage["filters"] and "pricing_unit_details" not in api_usage["filters"][0]


# --- the datetime text of every answer (`utc_iso`, the customer representation's `_datetime`) ------

_ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)), ZoneInfo("Europe/Paris")]


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from(_ZONES)
    ),
    zone=st.sampled_from(_ZONES),
)
@hypothesis_settings(max_examples=500, deadline=None)
def test_datetime_texts_are_what_strftime_wrote(moment, zone):
    """`isoformat` replaced `strftime("%04Y-%m-%dT%H:%M:%SZ")` (a fraction of its cost): same text,
    to the second (microseconds cut, not rounded), any year, any offset (ZoneInfo's LMT included)."""
    from django.utils import timezone as django_timezone

    from customers.representation import _datetime

    assert utc_iso(moment) == moment.astimezone(UTC).strftime("%04Y-%m-%dT%H:%M:%SZ")
    with django_timezone.override(zone):
        assert _datetime(moment) == moment.astimezone(zone).strftime("%04Y-%m-%dT%H:%M:%SZ")


def test_datetime_texts_of_none():
    from customers.representation import _datetime

    assert utc_iso(None) is None and _datetime(None) is None
