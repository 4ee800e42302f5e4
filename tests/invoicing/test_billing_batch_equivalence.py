"""Every worked example of the billing run, billed again through the set-based batch path.

The tests of the modules below call `customer_bill` (one customer, one transaction). Here each of
them runs with that name replaced by a batch of one (`billing_batch.customers_bill([id])`), so
every amount, status, number and billing period they check must come out the same through the
bulk usage reads, bulk numbering and bulk inserts (or through the per-customer path the batch
hands coupons, credit notes, wallets, progressive billing and grace periods to).
"""

from __future__ import annotations

import importlib
import inspect

import pytest

from invoicing.services.billing_batch import customers_bill

MODULES = [
    "tests.invoicing.test_billing_run",
    "tests.invoicing.test_billing_run_queries",
    "tests.invoicing.test_coupons_on_invoices",
    "tests.invoicing.test_lifecycle",
    "tests.invoicing.test_wallets_on_invoices",
    "tests.invoicing.test_credit_notes",
    "tests.invoicing.test_prorated_charges",
    "tests.usage_monitoring.test_progressive_billing",
]


def batch_of_one(customer_id, *, at=None, now=None, run_key=None):
    outcome = customers_bill([customer_id], at=at, now=now, run_key=run_key)
    failures = {str(k): v for k, v in outcome.failures.items()}
    if str(customer_id) in failures:
        raise failures[str(customer_id)]
    invoices = {str(k): v for k, v in outcome.invoices.items()}
    return invoices.get(str(customer_id), [])


# Checks specific to the per-customer code path, not to what is billed: the crash is injected in
# `lifecycle.send_invoice_webhook`, which the batch calls only when an endpoint wants the webhook
# (test_billing_batch.py crashes the batch after its inserts instead).
NOT_APPLICABLE = {"test_crash_between_fees_and_commit_leaves_nothing"}


def _cases():
    cases = []
    for name in MODULES:
        module = importlib.import_module(name)
        if getattr(module, "customer_bill", None) is None:
            continue
        for attr, fn in vars(module).items():
            if attr.startswith("test_") and not inspect.isfunction(fn) and hasattr(fn, "__wrapped__"):
                fn = fn.__wrapped__
            if not (attr.startswith("test_") and inspect.isfunction(fn)) or attr in NOT_APPLICABLE:
                continue
            if "customer_bill" not in fn.__code__.co_names:
                continue
            short = name.rsplit(".", 1)[1]
            expanded = False
            for mark in getattr(fn, "pytestmark", []):
                if mark.name == "parametrize":
                    argnames = mark.args[0]
                    names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
                    for value in mark.args[1]:
                        values = dict(zip(names, value, strict=True)) if len(names) > 1 else {names[0]: value}
                        cases.append(pytest.param(name, attr, values, id=f"{short}::{attr}[{value}]"))
                    expanded = True
            if not expanded:
                cases.append(pytest.param(name, attr, {}, id=f"{short}::{attr}"))
    return cases


@pytest.fixture
def endpoint(organization):
    """test_lifecycle's webhook endpoint fixture (same definition)."""
    from webhooks.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(organization=organization, webhook_url="http://127.0.0.1:9/hook")


CASES = _cases()


def test_the_worked_examples_are_collected():
    assert len(CASES) >= 40


@pytest.mark.django_db
@pytest.mark.parametrize(("module_name", "test_name", "params"), CASES)
def test_same_result_through_a_batch_of_one(module_name, test_name, params, request, monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # test_lifecycle's autouse fixture (PDFs)
    module = importlib.import_module(module_name)
    monkeypatch.setattr(module, "customer_bill", batch_of_one)
    fn = getattr(module, test_name)
    marks = getattr(fn, "pytestmark", [])
    for mark in marks if isinstance(marks, list) else [marks]:
        if mark.name == "skipif" and mark.args and mark.args[0]:
            pytest.skip(mark.kwargs.get("reason", "skipped"))
    kwargs = {
        name: params[name] if name in params else request.getfixturevalue(name)
        for name in inspect.signature(fn).parameters
    }
    fn(**kwargs)
