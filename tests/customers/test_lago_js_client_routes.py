"""Lago's JavaScript client (`lago-javascript-client`, run by node) calls a customer's lists and
wallets, wallet traceability, projected usage and the invoice collection and usage analytics
against a live bxb: tests/js/customer_routes.mjs (skipped without node and the client, as
tests/entitlements/test_lago_js_client.py explains)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess

import pytest

from tests.customers.test_customer_scoped_routes import _history
from tests.entitlements.test_lago_js_client import JS_DIR, _node
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe
from tests.invoicing.test_wallet_traceability import _ledger

pytestmark = pytest.mark.django_db(transaction=True)


def test_customer_routes_with_lago_js_client(lago, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    node = _node()
    organization = lago.organization
    customer = make_customer(organization, external_id="js_c", currency="USD")
    _history(customer)
    plan = make_plan(organization, code="js_usage")
    make_charge(plan, make_metric(organization, "js_calls"), properties={"amount": "1"})
    now = dt.datetime.now(dt.UTC)
    subscription = subscribe(customer, plan, now - dt.timedelta(days=40), external_id="js_sub")
    add_events(subscription, "js_calls", [now - dt.timedelta(minutes=5)] * 3)
    _, inbound, _, _, outbound, _ = _ledger(organization)
    env = {
        **os.environ,
        "LAGO_API_URL": f"{lago.base_url}/api/v1",
        "LAGO_API_KEY": lago.raw_key,
        "CUSTOMER_ID": "js_c",
        "SUBSCRIPTION_ID": "js_sub",
        "INBOUND_ID": str(inbound.id),
        "OUTBOUND_ID": str(outbound.id),
    }
    result = subprocess.run(
        [node, str(JS_DIR / "customer_routes.mjs")],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed, 0 failed" in result.stdout, result.stdout
