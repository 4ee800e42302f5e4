"""Lago's JavaScript client (`lago-javascript-client` from npm, run by node) drives every features and
entitlements method against a live bxb: tests/js/entitlements.mjs.

`.ci/run` installs node and npm (Debian's packages) and the client (`npm ci` in tests/js), so CI
runs this test; elsewhere it is skipped until `npm ci --prefix tests/js` has been run (with CI set,
a missing node or client fails instead of skipping).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.factories.invoicing import make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

JS_DIR = Path(__file__).resolve().parent.parent / "js"
CLIENT = JS_DIR / "node_modules" / "lago-javascript-client" / "package.json"


def _node() -> str:
    node = shutil.which("node")
    if node is None or not CLIENT.exists():
        message = "node and tests/js/node_modules are needed: apt-get install nodejs npm; npm ci --prefix tests/js"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return node


def test_features_and_entitlements_with_lago_js_client(lago):
    node = _node()
    organization = lago.organization
    metric = make_metric(organization, code="api_calls_js", aggregation_type="count_agg")
    plan = make_plan(organization, code="js_plan")
    customer = make_customer(organization, currency="USD")
    started = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    subscribe(customer, plan, started, external_id="js_sub")
    env = {
        **os.environ,
        "LAGO_API_URL": f"{lago.base_url}/api/v1",
        "LAGO_API_KEY": lago.raw_key,
        "PLAN_CODE": plan.code,
        "SUBSCRIPTION_ID": "js_sub",
        "METRIC_CODE": metric.code,
    }
    result = subprocess.run(
        [node, str(JS_DIR / "entitlements.mjs")],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed, 0 failed" in result.stdout, result.stdout
