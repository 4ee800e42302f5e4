"""Hostile payloads on the write endpoints of the finished areas: always a 4xx in Lago's error shape
(or a 200 when the value happens to be acceptable), never a 5xx, and nothing written on a refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

# (path, root key) — POST endpoints of customers, catalog, webhooks, subscriptions and credits.
ENDPOINTS: list[tuple[str, str]] = [
    ("/api/v1/customers", "customer"),
    ("/api/v1/taxes", "tax"),
    ("/api/v1/billable_metrics", "billable_metric"),
    ("/api/v1/add_ons", "add_on"),
    ("/api/v1/plans", "plan"),
    ("/api/v1/coupons", "coupon"),
    ("/api/v1/applied_coupons", "applied_coupon"),
    ("/api/v1/subscriptions", "subscription"),
    ("/api/v1/webhook_endpoints", "webhook_endpoint"),
    ("/api/v1/wallets", "wallet"),
    ("/api/v1/wallet_transactions", "wallet_transaction"),
    ("/api/v1/credit_notes", "credit_note"),
    ("/api/v1/credit_notes/estimate", "credit_note"),
]
JSON = "application/json"
WATCHED_APPS = ("customers", "catalog", "webhooks", "subscriptions", "invoicing")

# Raw request bodies that are not a JSON object with the root key.
RAW_BODIES = ["{", '{"a": 1,}', "[]", "null", '"text"', "1e400", "{}", "\x00", '{"%s": null}', '{"%s": []}',
              '{"%s": "x"}', '{"%s": 1e400}', '{"%s": 7}']  # fmt: skip
# Values put in every field at once, then (a smaller set) in one field at a time.
HOSTILE_VALUES: list[Any] = [None, "x" * 5000, {"a": {"b": 1}}, [1, "two"], 10**30, -(10**30), "\x00nul", "😀ü",
                             True, 1.5, "1e400", "-1", "", [], {}]  # fmt: skip
PER_FIELD_VALUES: list[Any] = [None, {"a": 1}, [1], -(10**30)]


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(schema, node["allOf"][0])
    return node


def _fields(schema: dict, path: str, root: str) -> list[str]:
    operation = schema["paths"][path]["post"]
    body = _resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"])
    inner = _resolve(schema, body["properties"][root])
    return sorted(inner.get("properties", {}))


def _counts() -> tuple[int, ...]:
    """Row counts of every table of the watched apps, in one query."""
    tables = [
        connection.ops.quote_name(model._meta.db_table)
        for name in WATCHED_APPS
        for model in apps.get_app_config(name).get_models()
    ]
    counts = ", ".join(f"(SELECT COUNT(*) FROM {table})" for table in tables)  # noqa: S608 (model table names)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        return tuple(cursor.fetchone())


def _problem(client, path: str, before: tuple[int, ...], what: str, **kwargs: Any) -> str | None:
    """Send one request; describe what is wrong with the answer (None when it is fine)."""
    try:
        response = client.generic("POST", path, **kwargs)
    except Exception as exc:  # the test client re-raises what would have been a 500
        return f"{what}: raised {type(exc).__name__}: {exc}"
    if response.status_code == 200:
        return None
    if not 400 <= response.status_code < 500:
        return f"{what}: {response.status_code}"
    body = response.json()
    if body.get("status") != response.status_code or not isinstance(body.get("error"), str):
        return f"{what}: not Lago's error shape: {body}"
    if _counts() != before:
        return f"{what}: refused with {response.status_code} but wrote rows"
    return None


def test_hostile_payloads_never_5xx_and_refusals_write_nothing(tenant, schema):
    client = tenant.client
    assert client.post("/api/v1/customers", {"customer": {"external_id": "cust-1"}}, format="json").status_code == 200
    problems: list[str | None] = []
    sent = 0
    for path, root in ENDPOINTS:
        fields = _fields(schema, path, root)
        assert fields, path
        for raw in RAW_BODIES:
            text = raw.replace("%s", root)
            problems.append(
                _problem(client, path, _counts(), f"{path} {text!r}", data=text.encode(), content_type=JSON)
            )
            sent += 1
        for value in HOSTILE_VALUES:
            data = json.dumps({root: dict.fromkeys(fields, value)})
            problems.append(
                _problem(client, path, _counts(), f"{path} all={value!r:.30}", data=data, content_type=JSON)
            )
            sent += 1
        for field in fields:
            for value in PER_FIELD_VALUES:
                data = json.dumps({root: {field: value}})
                what = f"{path} {field}={value!r:.30}"
                problems.append(_problem(client, path, _counts(), what, data=data, content_type=JSON))
                sent += 1
    assert sent > 500
    assert [p for p in problems if p] == []


def test_a_wallet_with_a_huge_negative_rate_is_refused(tenant):
    """Regression: `rate.quantize()` overflowed the decimal context (500) for rate_amount -10**30."""
    client = tenant.client
    client.post("/api/v1/customers", {"customer": {"external_id": "cust-1"}}, format="json")
    before = _counts()
    payload = {"wallet": {"external_customer_id": "cust-1", "currency": "USD", "rate_amount": -(10**30)}}
    response = client.post("/api/v1/wallets", payload, format="json")
    assert response.status_code == 422
    assert response.json()["error_details"]["rate_amount"] == ["invalid_amount"]
    assert _counts() == before


def test_nul_characters_are_refused_before_reaching_the_database(tenant):
    """Regression: PostgreSQL refuses NUL in text (DataError, a 500 on POST /wallets with name "\\x00")."""
    before = _counts()
    for body in ['{"customer": {"external_id": "a\\u0000b"}}', '{"customer": {"metadata": [{"k\\u0000": "v"}]}}']:
        response = tenant.client.generic("POST", "/api/v1/customers", body.encode(), content_type=JSON)
        assert response.status_code == 400
        assert response.json()["status"] == 400
    assert _counts() == before
