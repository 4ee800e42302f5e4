"""The hostile inputs a tenant probe found: each gets a 4xx in Lago's error shape, never a 5xx.

Every request here is something a client can send; none may answer 500 or raise in the view.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.factories.catalog import AddOnFactory, BillableMetricFactory
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture
def world(tenant):
    organization = tenant.organization
    customer = make_customer(organization, external_id="cust-1", currency="USD")
    plan = make_plan(organization, code="basic")
    subscription = subscribe(customer, plan, datetime(2026, 1, 1, tzinfo=UTC), external_id="sub-1")
    AddOnFactory(organization=organization, code="setup", amount_cents=1000, amount_currency="USD")
    BillableMetricFactory(organization=organization, code="calls")
    return {"customer": customer, "plan": plan, "subscription": subscription}


def _send(client, method: str, path: str, body: Any = None, *, content_type: str = JSON, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    kwargs: dict[str, Any] = {}
    if data is not None:
        kwargs = {"data": data, "content_type": content_type}
    return client.generic(method, path, **kwargs)


def _assert_lago_4xx(response, what: str, *, status: int | None = None) -> dict:
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.content[:300]!r}"
    body = response.json()
    assert body.get("status") == response.status_code, f"{what}: {body}"
    assert isinstance(body.get("error"), str), f"{what}: {body}"
    if status is not None:
        assert response.status_code == status, f"{what}: {response.status_code} {body}"
    return body


NUL_QUERIES = [
    "/api/v1/customers?external_id=a%00b",
    "/api/v1/invoices?external_customer_id=%00",
    "/api/v1/invoices?status=final%00ized",
    "/api/v1/subscriptions?external_customer_id=x%00",
    "/api/v1/events?external_subscription_id=%00",
    "/api/v1/fees?external_subscription_id=%00",
    "/api/v1/wallets?external_customer_id=%00",
    "/api/v1/plans?page=1%00",
    "/api/v1/webhooks?status=%00",
    "/api/v1/credit_notes?external_customer_id=%00",
    "/api/v1/payments?external_customer_id=%00",
    "/api/v1/customers/cust-1/current_usage?external_subscription_id=sub%00",
    "/api/v1/analytics/gross_revenue?currency=%00",
]
NUL_PATHS = [
    "/api/v1/customers/a%00b",
    "/api/v1/plans/basic%00",
    "/api/v1/invoices/%00",
    "/api/v1/subscriptions/sub-1%00",
    "/api/v1/events/tx%00",
    "/api/v1/fees/%00",
    "/api/v1/wallets/%00",
    "/api/v1/billable_metrics/%00",
    "/api/v1/add_ons/%00",
    "/api/v1/taxes/%00",
    "/api/v1/coupons/%00",
    "/api/v1/webhook_endpoints/%00",
    "/api/v1/webhooks/%00",
    "/api/v1/payments/%00",
    "/api/v1/credit_notes/%00",
    "/api/v1/subscriptions/sub-1%00/alerts",
    "/api/v1/customers/cust-1%00/wallets",
]


@pytest.mark.parametrize("path", NUL_QUERIES + NUL_PATHS)
def test_a_nul_byte_in_a_query_parameter_or_path_id_is_a_400(tenant, world, path):
    body = _assert_lago_4xx(tenant.client.get(path), path, status=400)
    assert "NUL" in body["error"]


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("/api/v1/customers", "customer"),
        ("/api/v1/events", "event"),
        ("/api/v1/wallets", "wallet"),
        ("/api/v1/plans", "plan"),
    ],
)
@pytest.mark.parametrize("charset", ["rot13", "base64", "zlib", "hex", "x-nonsense", "utf-16"])
def test_a_charset_that_is_no_text_encoding_is_refused(tenant, world, path, root, charset):
    body = b'{"%s": {"external_id": "x"}}' % root.encode()
    response = _send(tenant.client, "POST", path, raw=body, content_type=f"application/json; charset={charset}")
    _assert_lago_4xx(response, f"{path} charset={charset}", status=415)  # JSON is UTF-8 (RFC 8259)


def test_a_utf8_charset_is_accepted(tenant, world):
    for charset in ("utf-8", "UTF8", '"utf-8"', "us-ascii"):
        response = _send(tenant.client, "POST", "/api/v1/customers", {"customer": {"external_id": "cs"}},
                         content_type=f"application/json; charset={charset}")  # fmt: skip
        assert response.status_code == 200, (charset, response.content)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/events", '{"event": {"transaction_id": "\\ud800", "code": "calls", "external_subscription_id": "sub-1"}}'),
        ("/api/v1/events", '{"event": {"transaction_id": "t1", "code": "calls", "external_subscription_id": "sub-1", "properties": {"\\udfff": "x"}}}'),
        ("/api/v1/events/batch", '{"events": [{"transaction_id": "t\\ud800", "code": "calls", "external_subscription_id": "sub-1"}]}'),
        ("/api/v1/wallets", '{"wallet": {"external_customer_id": "cust-1", "rate_amount": "1", "name": "\\ud800"}}'),
        ("/api/v1/customers", '{"customer": {"external_id": "c\\udc00"}}'),
    ],
)  # fmt: skip
def test_a_lone_surrogate_is_a_400(tenant, world, path, body):
    response = _send(tenant.client, "POST", path, raw=body.encode())
    error = _assert_lago_4xx(response, body, status=400)
    assert "surrogate" in error["error"]


def test_huge_integers_are_refused_naming_the_field(tenant, world):
    client = tenant.client
    cases = [
        ("/api/v1/add_ons", {"add_on": {"name": "x", "code": "big", "amount_cents": 10**30, "amount_currency": "USD"}}),
        ("/api/v1/plans", {"plan": {"name": "p", "code": "big", "interval": "monthly", "amount_cents": 10**30,
                                    "amount_currency": "USD"}}),
        ("/api/v1/invoices", {"invoice": {"external_customer_id": "cust-1",
                                          "fees": [{"add_on_code": "setup", "units": 10**30}]}}),
        ("/api/v1/invoices", {"invoice": {"external_customer_id": "cust-1",
                                          "fees": [{"add_on_code": "setup", "unit_amount_cents": 10**30}]}}),
        ("/api/v1/coupons", {"coupon": {"name": "c", "code": "big", "coupon_type": "fixed_amount",
                                        "amount_cents": 10**30, "amount_currency": "USD", "frequency": "once",
                                        "expiration": "no_expiration"}}),
    ]  # fmt: skip
    for path, payload in cases:
        response = _send(client, "POST", path, payload)
        body = _assert_lago_4xx(response, f"{path} {payload}", status=422)
        assert body["code"] == "validation_errors"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events?page=10000000000000000000",
        "/api/v1/customers?page=10000000000000000000",
        "/api/v1/invoices?page=99999999999999999999999&per_page=5",
        "/api/v1/plans?per_page=10000000000000000000",
        "/api/v1/customers?page=-1",
        "/api/v1/customers?page=abc",
    ],
)
def test_huge_or_invalid_page_numbers_are_a_422(tenant, world, path):
    body = _assert_lago_4xx(tenant.client.get(path), path, status=422)
    assert body["code"] == "validation_errors"
    assert set(body["error_details"]) <= {"page", "per_page"}


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/events?timestamp_from=3000-13-45", "timestamp_from"),
        ("/api/v1/events?timestamp_to=not-a-date", "timestamp_to"),
        ("/api/v1/invoices?issuing_date_from=2024-02-30", "issuing_date_from"),
        ("/api/v1/invoices?issuing_date_to=0001-01-01", "issuing_date_to"),
        ("/api/v1/invoices?amount_from=1e3", "amount_from"),
        ("/api/v1/invoices?payment_overdue=maybe", "payment_overdue"),
        ("/api/v1/customers?has_customer_type=2", "has_customer_type"),
        ("/api/v1/applied_coupons?status=expired", "status"),
        ("/api/v1/subscriptions?status[]=gone", "status"),
        ("/api/v1/analytics/gross_revenue?months=10000000000000000000", "months"),
    ],
)
def test_invalid_dates_and_numbers_in_filters_are_a_422(tenant, world, path, field):
    body = _assert_lago_4xx(tenant.client.get(path), path, status=422)
    assert field in body["error_details"], body


def test_malformed_nested_values_are_a_422(tenant, world):
    client = tenant.client
    cases = [
        ("POST", "/api/v1/customers", {"customer": {"external_id": "c2", "metadata": [None]}}, "metadata"),
        ("POST", "/api/v1/wallets", {"wallet": {"external_customer_id": "cust-1", "rate_amount": "1",
                                                "applies_to": {"fee_types": [{}]}}}, "applies_to"),
        ("POST", "/api/v1/subscriptions/sub-1/alerts", {"alert": {"alert_type": {}, "code": "a",
                                                                  "thresholds": [{"value": "1"}]}}, "alert_type"),
    ]  # fmt: skip
    for method, path, payload, field in cases:
        body = _assert_lago_4xx(_send(client, method, path, payload), f"{path} {payload}", status=422)
        assert any(key.startswith(field) for key in body["error_details"]), body


def test_a_negative_past_usage_periods_count_is_a_422(tenant, world):
    path = "/api/v1/customers/cust-1/past_usage?external_subscription_id=sub-1&periods_count=-1"
    body = _assert_lago_4xx(tenant.client.get(path), path, status=422)
    assert "periods_count" in body["error_details"]


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/api/v1/add_ons", {"add_on": {"name": "x", "code": "big", "amount_cents": 10**16, "amount_currency": "USD"}},
         "amount_cents"),
        ("/api/v1/plans", {"plan": {"name": "p", "code": "big", "interval": "monthly", "amount_cents": 10**16,
                                    "amount_currency": "USD"}}, "amount_cents"),
        ("/api/v1/wallets", {"wallet": {"external_customer_id": "cust-1", "rate_amount": "1",
                                        "paid_top_up_max_amount_cents": 10**16}}, "paid_top_up_max_amount_cents"),
    ],
)  # fmt: skip
def test_money_above_the_amount_bound_is_refused(tenant, world, path, payload, field):
    """Within the JSON bound but above MAX_AMOUNT_CENTS (10^15): refused by the field's own bound."""
    body = _assert_lago_4xx(_send(tenant.client, "POST", path, payload), path, status=422)
    assert field in body["error_details"], body
