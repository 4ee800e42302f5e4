"""Every 2xx answer of Lago's operations that bxb serves has the fields Lago's specification
requires, with its types (tests/core/lago_spec_shapes.py holds the specification's objects, written
down compactly; no network). The differences Lago's own server makes, and bxb follows, are in
`SERVER_DIFFERENCES` and in docs/lago-compatibility.md ("Shapes checked against the specification").
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.core.lago_spec_shapes import OPERATIONS, SHAPES

pytestmark = pytest.mark.django_db

# Where bxb's answer knowingly differs from the specification: operation -> {path in the answer:
# why}. Each is written down in docs/lago-compatibility.md ("Shapes checked against the specification").
KNOWN_DIFFERENCES: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/events"): {
        "$.event.lago_customer_id": "bxb names the customer it resolved; the specification types it null "
        "(Lago's server no longer resolves the customer at ingestion and sends null)",
    },
    ("POST", "/credit_notes/estimate"): {
        "$.estimated_credit_note.precise_taxes_amount_cents": "a decimal string, as Lago's server renders the "
        "decimal column (the specification says number)",
        "$.estimated_credit_note.precise_coupons_adjustment_amount_cents": "the same",
    },
    **{
        (method, path): {
            f"$.{root}.request_body": "an object, as Lago's server (a map column) and its clients (a dict) have it; "
            "the specification says string",
            f"$.{root}.request_response": "the same",
        }
        for method, path, root in (("GET", "/api_logs", "api_logs[]"), ("GET", "/api_logs/{request_id}", "api_log"))
    },
    ("POST", "/events/batch"): {
        "$.events[].lago_customer_id": "as POST /events, for each event",
    },
    **{
        (method, path): {
            f"$.{root}.billable_metric": "null for an alert on an amount (no metric), as Lago's server sends it",
            f"$.{root}.previous_value": "a decimal string, as Lago's server renders the decimal column",
        }
        for method, path, root in (
            ("POST", "/subscriptions/{external_id}/alerts", "alert"),
            ("GET", "/subscriptions/{external_id}/alerts", "alerts[]"),
            ("GET", "/subscriptions/{external_id}/alerts/{code}", "alert"),
            ("PUT", "/subscriptions/{external_id}/alerts/{code}", "alert"),
            ("DELETE", "/subscriptions/{external_id}/alerts/{code}", "alert"),
            ("POST", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts", "alert"),
            ("GET", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts", "alerts[]"),
            ("GET", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts/{code}", "alert"),
            ("PUT", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts/{code}", "alert"),
            ("DELETE", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts/{code}", "alert"),
        )
    },
    **{
        (method, path): {
            f"$.{root}.{name}": "null for a manual payment (no provider), as Lago's server sends it"
            for name in ("payment_provider_code", "payment_provider_type", "provider_customer_id", "next_action")
        }
        for method, path, root in (
            ("POST", "/payments", "payment"),
            ("GET", "/payments", "payments[]"),
            ("GET", "/payments/{lago_id}", "payment"),
        )
    },
    ("GET", "/payment_receipts"): {
        "$.payment_receipts[].payment.next_action": "null when the provider asked for nothing, as Lago's server sends it"
    },
    ("GET", "/payment_receipts/{lago_id}"): {
        "$.payment_receipt.payment.next_action": "null when the provider asked for nothing, as Lago's server sends it"
    },
    **{
        (method, path): {
            f"$.fees[].{name}": "a decimal string, as Lago's server renders its decimals"
            for name in ("precise_amount", "precise_total_amount", "taxes_precise_amount", "precise_unit_amount")
        }
        | {"$.fees[].amount_details": "{} as on every other fee; Lago's server sends null here"}
        for method, path in (
            ("POST", "/events/estimate_instant_fees"),
            ("POST", "/events/batch_estimate_instant_fees"),
        )
    },
}


# --- the types ---------------------------------------------------------------------------------


def _split_top(text: str) -> list[str]:
    """`a:T,b:{c:U,d:V}` -> ["a:T", "b:{c:U,d:V}"] (commas inside brackets kept)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if text[start:]:
        parts.append(text[start:])
    return parts


def _fields(spec: str) -> dict[str, tuple[str, bool]]:
    """`name!:str other:int?` -> {name: ("str", True), other: ("int?", False)}."""
    fields = {}
    for item in spec.split():
        name, _, kind = item.partition(":")
        fields[name.rstrip("!")] = (kind, name.endswith("!"))
    return fields


_PARSED = {name: _fields(spec) for name, spec in SHAPES.items()}


def problems(kind: str, value: Any, where: str) -> list[str]:
    """Where `value` does not have the type `kind` of the table."""
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    if value is None:
        return [] if nullable or kind in ("any", "null") else [f"{where}: null, expected {kind}"]
    if kind.startswith("["):
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, expected a list"]
        return [p for i, item in enumerate(value) for p in problems(kind[1:-1], item, f"{where}[{i}]")]
    if kind.startswith("{"):
        inline = {}
        for item in _split_top(kind[1:-1]):
            name, _, inner = item.partition(":")
            inline[name] = (inner, True)
        return _object_problems(inline, value, where, "")
    if kind in _PARSED:
        return _object_problems(_PARSED[kind], value, where, kind)
    checks = {
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "num": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "obj": lambda v: isinstance(v, dict),
        "any": lambda v: True,
        "null": lambda v: False,
    }
    check = checks.get(kind)
    if check is None:
        raise AssertionError(f"unknown type {kind!r} in the table")
    return [] if check(value) else [f"{where}: {type(value).__name__} {value!r:.40}, expected {kind}"]


def _object_problems(fields: dict[str, tuple[str, bool]], value: Any, where: str, name: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: {type(value).__name__}, expected an object {name}"]
    found = []
    for field, (kind, required) in fields.items():
        if field not in value:
            if required:
                found.append(f"{where}.{field}: required by {name or 'the specification'}, missing")
            continue
        if value[field] is None and not required:
            continue  # an optional field unset: Lago's server sends null too, whatever the type says
        found += problems(kind, value[field], f"{where}.{field}")
    return found


def answer_problems(method: str, path: str, body: Any) -> list[str]:
    (spec,) = [answer for m, p, answer in OPERATIONS if (m, p) == (method, path)]
    if not spec:
        return []  # the specification documents no JSON body for this answer (only its status)
    known = KNOWN_DIFFERENCES.get((method, path), {})
    found = _object_problems(_fields(_required(spec)), body, "$", "")
    return [problem for problem in found if re.sub(r"\[\d+\]", "[]", problem.partition(":")[0]) not in known]


def _required(spec: str) -> str:
    """Every root key of an answer is required."""
    return " ".join(f"{item.partition(':')[0]}!:{item.partition(':')[2]}" for item in spec.split())


def test_the_checker_catches_a_missing_field_a_wrong_type_and_a_null():
    good = {
        "lago_id": "x",
        "name": "Tax",
        "code": "t",
        "rate": 20.0,
        "applied_to_organization": False,
        "created_at": "t",
    }
    assert problems("TaxObject", good, "$") == []
    assert problems("TaxObject", {**good, "rate": "20.0"}, "$") == ["$.rate: str '20.0', expected num"]
    missing = {key: value for key, value in good.items() if key != "code"}
    assert problems("TaxObject", missing, "$") == ["$.code: required by TaxObject, missing"]
    assert problems("TaxObject", {**good, "name": None}, "$") == ["$.name: null, expected str"]
    assert problems("[TaxObject]?", None, "$") == []
    assert problems("{a:int,b:[str]}", {"a": 1, "b": ["x", 2]}, "$") == ["$.b[1]: int 2, expected str"]


# --- the operations ----------------------------------------------------------------------------

CHECKED: set[tuple[str, str]] = set()


class Lago:
    """The tenant's API client; each call's answer is checked against the table."""

    def __init__(self, client):
        self.client = client

    def call(self, method: str, template: str, path: str | None = None, body: Any = None, **params: Any) -> Any:
        url = "/api/v1" + (path or template)
        send = getattr(self.client, method.lower())
        response = send(url, body, format="json") if body is not None else send(url, params or None)
        assert 200 <= response.status_code < 300, (method, url, response.status_code, response.content[:500])
        answer = (
            response.json() if response.content and response["Content-Type"].startswith("application/json") else None
        )
        found = answer_problems(method, template, answer)
        assert found == [], (method, template, found)
        CHECKED.add((method, template))
        return answer


@pytest.fixture
def lago_api(tenant):
    return Lago(tenant.client)


def test_catalog(lago_api):
    api = lago_api
    api.call("POST", "/taxes", body={"tax": {"name": "VAT", "code": "vat", "rate": "20"}})
    api.call("GET", "/taxes")
    api.call("GET", "/taxes/{code}", "/taxes/vat")
    api.call("PUT", "/taxes/{code}", "/taxes/vat", body={"tax": {"name": "VAT 20"}})
    api.call(
        "POST",
        "/billable_metrics",
        body={"billable_metric": {"name": "Calls", "code": "calls", "aggregation_type": "count_agg"}},
    )
    api.call("GET", "/billable_metrics")
    api.call("GET", "/billable_metrics/{code}", "/billable_metrics/calls")
    api.call(
        "PUT", "/billable_metrics/{code}", "/billable_metrics/calls", body={"billable_metric": {"name": "API calls"}}
    )
    api.call(
        "POST",
        "/add_ons",
        body={
            "add_on": {
                "name": "Setup",
                "code": "setup",
                "amount_cents": 1000,
                "amount_currency": "EUR",
                "tax_codes": ["vat"],
            }
        },
    )
    api.call("GET", "/add_ons")
    api.call("GET", "/add_ons/{code}", "/add_ons/setup")
    api.call("PUT", "/add_ons/{code}", "/add_ons/setup", body={"add_on": {"name": "Set-up"}})
    plan: dict[str, Any] = {
        "name": "Basic", "code": "basic", "interval": "monthly", "amount_cents": 1000, "amount_currency": "EUR",
        "pay_in_advance": False, "tax_codes": ["vat"],
        "charges": [{"billable_metric_id": None, "charge_model": "standard", "properties": {"amount": "0.5"}}],
    }  # fmt: skip
    metric = api.call("GET", "/billable_metrics/{code}", "/billable_metrics/calls")["billable_metric"]
    plan["charges"][0]["billable_metric_id"] = metric["lago_id"]
    api.call("POST", "/plans", body={"plan": plan})
    api.call("GET", "/plans")
    api.call("GET", "/plans/{code}", "/plans/basic")
    api.call("PUT", "/plans/{code}", "/plans/basic", body={"plan": {"name": "Basic plan"}})
    coupon = {"name": "Ten", "code": "ten", "coupon_type": "fixed_amount", "amount_cents": 1000, "amount_currency": "EUR",
              "frequency": "once", "expiration": "no_expiration"}  # fmt: skip
    api.call("POST", "/coupons", body={"coupon": coupon})
    api.call("GET", "/coupons")
    api.call("GET", "/coupons/{code}", "/coupons/ten")
    api.call("PUT", "/coupons/{code}", "/coupons/ten", body={"coupon": {"name": "Ten off"}})
    api.call("DELETE", "/coupons/{code}", "/coupons/ten")
    api.call("DELETE", "/add_ons/{code}", "/add_ons/setup")
    api.call("POST", "/plans", body={"plan": {**plan, "code": "gone", "charges": []}})
    api.call("DELETE", "/plans/{code}", "/plans/gone")
    api.call(
        "POST",
        "/billable_metrics",
        body={"billable_metric": {"name": "Gone", "code": "gone", "aggregation_type": "count_agg"}},
    )
    api.call("DELETE", "/billable_metrics/{code}", "/billable_metrics/gone")
    api.call("POST", "/taxes", body={"tax": {"name": "Gone", "code": "gone", "rate": "5"}})
    api.call("DELETE", "/taxes/{code}", "/taxes/gone")


def _customer_with_subscription(api):
    api.call(
        "POST",
        "/billable_metrics",
        body={"billable_metric": {"name": "Calls", "code": "calls", "aggregation_type": "count_agg"}},
    )
    api.call(
        "POST",
        "/plans",
        body={
            "plan": {
                "name": "Basic",
                "code": "basic",
                "interval": "monthly",
                "amount_cents": 1000,
                "amount_currency": "EUR",
            }
        },
    )
    api.call("POST", "/customers", body={"customer": {"external_id": "cus_1", "name": "Acme", "currency": "EUR"}})
    api.call(
        "POST",
        "/subscriptions",
        body={"subscription": {"external_customer_id": "cus_1", "plan_code": "basic", "external_id": "sub_1"}},
    )


def test_billing_entities(lago_api):
    api = lago_api
    api.call("POST", "/taxes", body={"tax": {"name": "VAT", "code": "vat", "rate": "20"}})
    api.call("GET", "/billing_entities")
    body = {"billing_entity": {"code": "eu", "name": "Acme EU", "country": "FR", "legal_name": "Acme EU SAS"}}
    api.call("POST", "/billing_entities", body=body)
    api.call("GET", "/billing_entities/{code}", "/billing_entities/eu")
    api.call("PUT", "/billing_entities/{code}", "/billing_entities/eu", body={"billing_entity": {"tax_codes": ["vat"]}})


def test_customers_subscriptions_events(lago_api):
    api = lago_api
    _customer_with_subscription(api)
    api.call("GET", "/customers")
    api.call("GET", "/customers/{external_customer_id}", "/customers/cus_1")
    api.call("GET", "/subscriptions")
    api.call("GET", "/subscriptions/{external_id}", "/subscriptions/sub_1")
    api.call("PUT", "/subscriptions/{external_id}", "/subscriptions/sub_1", body={"subscription": {"name": "Main"}})
    event = {"transaction_id": "tr_1", "external_subscription_id": "sub_1", "code": "calls", "properties": {}}
    api.call("POST", "/events", body={"event": event})
    api.call("POST", "/events/batch", body={"events": [{**event, "transaction_id": "tr_2"}]})
    api.call("GET", "/events")
    api.call("GET", "/events/{transaction_id}", "/events/tr_1")
    api.call(
        "POST",
        "/coupons",
        body={
            "coupon": {
                "name": "Ten",
                "code": "ten",
                "coupon_type": "percentage",
                "percentage_rate": "10",
                "frequency": "once",
                "expiration": "no_expiration",
            }
        },
    )
    api.call(
        "POST", "/applied_coupons", body={"applied_coupon": {"external_customer_id": "cus_1", "coupon_code": "ten"}}
    )
    api.call("GET", "/applied_coupons")
    api.call("DELETE", "/subscriptions/{external_id}", "/subscriptions/sub_1")
    api.call("DELETE", "/customers/{external_customer_id}", "/customers/cus_1")


def test_invoices_fees_credit_notes(lago_api):
    api = lago_api
    api.call("POST", "/customers", body={"customer": {"external_id": "cus_1", "name": "Acme", "currency": "EUR"}})
    api.call(
        "POST",
        "/add_ons",
        body={"add_on": {"name": "Setup", "code": "setup", "amount_cents": 1000, "amount_currency": "EUR"}},
    )
    invoice = api.call(
        "POST",
        "/invoices",
        body={
            "invoice": {
                "external_customer_id": "cus_1",
                "currency": "EUR",
                "fees": [{"add_on_code": "setup", "units": "2"}],
            }
        },
    )["invoice"]
    lago_id = invoice["lago_id"]
    api.call("GET", "/invoices")
    api.call("GET", "/invoices/{lago_id}", f"/invoices/{lago_id}")
    api.call(
        "PUT",
        "/invoices/{lago_id}",
        f"/invoices/{lago_id}",
        body={"invoice": {"metadata": [{"key": "po", "value": "42"}]}},
    )
    fees = api.call("GET", "/fees")["fees"]
    api.call("GET", "/fees/{lago_id}", f"/fees/{fees[0]['lago_id']}")
    estimate = {"credit_note": {"invoice_id": lago_id, "items": [{"fee_id": fees[0]["lago_id"], "amount_cents": 500}]}}
    api.call("POST", "/credit_notes/estimate", body=estimate)
    note = {"credit_note": {"invoice_id": lago_id, "reason": "other", "credit_amount_cents": 500, "refund_amount_cents": 0,
                            "items": [{"fee_id": fees[0]["lago_id"], "amount_cents": 500}]}}  # fmt: skip
    created = api.call("POST", "/credit_notes", body=note)["credit_note"]
    api.call("GET", "/credit_notes")
    api.call("GET", "/credit_notes/{lago_id}", f"/credit_notes/{created['lago_id']}")
    api.call("PUT", "/credit_notes/{lago_id}/void", f"/credit_notes/{created['lago_id']}/void")
    api.call("POST", "/invoices/{lago_id}/void", f"/invoices/{lago_id}/void", body={})


def test_wallets(lago_api):
    api = lago_api
    api.call("POST", "/customers", body={"customer": {"external_id": "cus_1", "name": "Acme", "currency": "EUR"}})
    wallet = api.call(
        "POST",
        "/wallets",
        body={
            "wallet": {
                "external_customer_id": "cus_1",
                "rate_amount": "1",
                "currency": "EUR",
                "name": "Prepaid",
                "granted_credits": "10",
            }
        },
    )["wallet"]
    lago_id = wallet["lago_id"]
    api.call("GET", "/wallets", external_customer_id="cus_1")
    api.call("GET", "/wallets/{lago_id}", f"/wallets/{lago_id}")
    api.call("PUT", "/wallets/{lago_id}", f"/wallets/{lago_id}", body={"wallet": {"name": "Credits"}})
    api.call(
        "POST", "/wallet_transactions", body={"wallet_transaction": {"wallet_id": lago_id, "granted_credits": "5"}}
    )
    api.call("GET", "/wallets/{lago_id}/wallet_transactions", f"/wallets/{lago_id}/wallet_transactions")
    api.call("DELETE", "/wallets/{lago_id}", f"/wallets/{lago_id}")


def test_activity_and_api_logs(lago_api, settings):
    settings.API_LOGS_WRITE = "inline"
    api = lago_api
    api.call("POST", "/taxes", body={"tax": {"name": "VAT", "code": "vat", "rate": "20"}})
    activity = api.call("GET", "/activity_logs")["activity_logs"][0]
    api.call("GET", "/activity_logs/{activity_id}", f"/activity_logs/{activity['activity_id']}")
    log = api.call("GET", "/api_logs")["api_logs"][0]
    api.call("GET", "/api_logs/{request_id}", f"/api_logs/{log['request_id']}")


# The table's operations no scenario above reaches, and why (docs/lago-compatibility.md reports
# the coverage). Each is served and tested elsewhere for its behaviour.
NOT_CHECKED: dict[tuple[str, str], str] = {}


def test_every_operation_of_the_table_is_checked_or_says_why_not():
    """Read from this file's scenarios, so the answer does not depend on the order tests run in."""
    from pathlib import Path

    scenarios = [Path(__file__), Path(__file__).with_name("test_lago_shapes_routes.py")]
    scenarios.append(Path(__file__).parent.parent / "payments" / "test_lago_shapes_payments.py")
    text = "\n".join(path.read_text() for path in scenarios)
    called = set(re.findall(r'api\.call\(\s*"([A-Z]+)",\s*f?"([^"]+)"', text))
    table = {(method, path) for method, path, _ in OPERATIONS}
    assert table - called == set(NOT_CHECKED), sorted(table - called)
    assert not called - table, sorted(called - table)
