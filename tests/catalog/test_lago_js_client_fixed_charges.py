"""Lago's JavaScript client (`lago-javascript-client`, run by node) drives every plan and subscription
fixed charge method against a live bxb: tests/js/fixed_charges.mjs (skipped, as
tests/entitlements/test_lago_js_client.py, until `npm ci --prefix tests/js` has been run)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess

import pytest

from tests.entitlements.test_lago_js_client import JS_DIR, _node
from tests.factories.catalog import AddOnFactory
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


def test_fixed_charges_with_lago_js_client(lago):
    node = _node()
    organization = lago.organization
    plan = make_plan(organization, code="js_fixed_plan")
    AddOnFactory(organization=organization, code="js_seats")
    customer = make_customer(organization, currency="USD")
    subscribe(customer, plan, dt.datetime.now(dt.UTC) - dt.timedelta(days=3), external_id="js_fixed_sub")
    env = {
        **os.environ,
        "LAGO_API_URL": f"{lago.base_url}/api/v1",
        "LAGO_API_KEY": lago.raw_key,
        "PLAN_CODE": plan.code,
        "ADD_ON_CODE": "js_seats",
        "SUBSCRIPTION_ID": "js_fixed_sub",
    }
    result = subprocess.run(
        [node, str(JS_DIR / "fixed_charges.mjs")],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed, 0 failed" in result.stdout, result.stdout
