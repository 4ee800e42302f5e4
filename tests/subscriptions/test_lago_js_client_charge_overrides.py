"""Lago's JavaScript client (`lago-javascript-client`, run by node) calls every subscription charge
override method, and the invoice delete/retry/lose dispute and fee delete methods, against a live
bxb: tests/js/subscription_charges.mjs (skipped, as tests/entitlements/test_lago_js_client.py, until
`npm ci --prefix tests/js` has been run)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess

import pytest

from invoicing.billing.run import customer_bill
from invoicing.services.advance import pay_in_advance_fees
from tests.entitlements.test_lago_js_client import JS_DIR, _node
from tests.factories.catalog import BillableMetricFilterFactory
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe
from tests.factories.payments import finalized_invoice

pytestmark = pytest.mark.django_db(transaction=True)


def test_charge_overrides_and_invoice_actions_with_lago_js_client(lago, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    node = _node()
    organization = lago.organization
    metric = make_metric(organization, "units", "sum_agg", field_name="total")
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["eu", "us"])
    plan = make_plan(organization, code="js_ov_plan", amount_cents=1000)
    make_charge(plan, metric, code="units", properties={"amount": "0.01"})
    seats = make_charge(plan, make_metric(organization, "seats"), code="seats", properties={"amount": "10"},
                        pay_in_advance=True, invoiceable=False)  # fmt: skip
    customer = make_customer(organization, currency="USD", invoice_grace_period=3)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    sub = subscribe(customer, plan, start, external_id="js_ov_sub")
    add_events(sub, "seats", [dt.datetime(2024, 1, 2, tzinfo=dt.UTC)])
    [fee] = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id],
                                now=dt.datetime(2024, 1, 3, tzinfo=dt.UTC))  # fmt: skip
    assert fee.charge_id == seats.id and fee.invoice_id is None
    [draft] = customer_bill(customer.id, at=dt.datetime(2024, 2, 1, 1, tzinfo=dt.UTC))
    env = {
        **os.environ,
        "LAGO_API_URL": f"{lago.base_url}/api/v1",
        "LAGO_API_KEY": lago.raw_key,
        "SUBSCRIPTION_ID": "js_ov_sub",
        "DRAFT_INVOICE_ID": str(draft.id),
        "FINALIZED_INVOICE_ID": str(finalized_invoice(customer, 500).id),
        "FEE_ID": str(fee.id),
    }
    result = subprocess.run(
        [node, str(JS_DIR / "subscription_charges.mjs")],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed, 0 failed" in result.stdout, result.stdout
