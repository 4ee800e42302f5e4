"""Billing runs: the sweep that fans out one task per batch of customers, and its record for the admin."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing_project.core import metrics
from customers.models import Customer
from invoicing.models import BillingRun, BillingRunStatus, Invoice
from invoicing.services.billing import billing_due_customers, customer_bill
from invoicing.services.billing_batch import customers_bill

logger = logging.getLogger(__name__)
MAX_FAILURES_KEPT = 200
# Customers per `invoicing.bill_customers` task: a batch is billed set-based (a handful of queries
# and bulk inserts for all its customers), so bigger batches mean fewer statements per invoice,
# while each task stays short enough (well under a minute) to retry cheaply.
BATCH_SIZE = 500


def batches(ids: list[Any], size: int | None = None) -> list[list[Any]]:
    """The sweep's fan-out: `ids` cut into consecutive batches of at most `size` (`BATCH_SIZE`)."""
    size = max(int(size or BATCH_SIZE), 1)
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def billing_run_start(
    at: dt.datetime, *, organization: Any = None, trigger: str = "beat", dry_run: bool = False
) -> tuple[BillingRun, dict[Any, int]]:
    """Find what is due at `at` and record the run. The caller fans out (task or command)."""
    due = billing_due_customers(at, organization=organization)
    run = BillingRun.objects.create(
        organization=organization,
        trigger=trigger,
        at=at,
        dry_run=dry_run,
        customers_due=len(due),
        subscriptions_due=sum(due.values()),
        status=BillingRunStatus.SUCCEEDED if (dry_run or not due) else BillingRunStatus.RUNNING,
        finished_at=timezone.now() if (dry_run or not due) else None,
    )
    return run, due


def billing_run_customer(run_id: Any, customer_id: Any, *, at: dt.datetime) -> list[Invoice]:
    """Bill one customer for a run; a failure is recorded on the run (and re-raised for Celery)."""
    try:
        invoices = customer_bill(customer_id, at=at, run_key=str(run_id) if run_id else None)
    except IntegrityError:
        # Someone else invoiced the same period between our look and our write: nothing to do.
        invoices = []
    except Exception as exc:
        _record(run_id, customer_id, error=exc)
        raise
    _record(run_id, customer_id, created=len(invoices))
    if invoices:
        metrics.set_billing_run_lag(max((timezone.now() - at).total_seconds(), 0.0))
    return invoices


def billing_run_batch(run_id: Any, customer_ids: list[Any], *, at: dt.datetime) -> int:
    """Bill a batch of customers for a run (set-based, `billing_batch.customers_bill`).

    Customers that fail are recorded on the run with their reason (the others are billed and
    committed); they are still due, so the next sweep tries them again. If the batch as a whole
    cannot run (a database error outside any one customer), its customers are billed one by one.
    Returns the number of invoices created."""
    run_key = str(run_id) if run_id else None
    try:
        outcome = customers_bill(customer_ids, at=at, run_key=run_key)
    except Exception:
        logger.exception("billing batch failed as a whole; billing its %d customers one by one", len(customer_ids))
        created = 0
        for customer_id in customer_ids:
            try:
                created += len(billing_run_customer(run_id, customer_id, at=at))
            except Exception:  # noqa: BLE001, S112 - recorded on the run by billing_run_customer
                continue
        return created
    created = outcome.invoices_created
    _record_batch(run_id, created=created, failures=outcome.failures)
    if created:
        metrics.set_billing_run_lag(max((timezone.now() - at).total_seconds(), 0.0))
    return created


def _record_batch(run_id: Any, *, created: int, failures: dict[Any, BaseException]) -> None:
    if run_id is None:
        return
    if not failures:
        _record(run_id, None, created=created)
        return
    for customer_id, error in failures.items():
        logger.warning("billing run %s: customer %s failed: %r", run_id, customer_id, error)
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().filter(id=run_id).first()
        if run is None:
            return
        names = dict(Customer.objects.filter(id__in=list(failures)).values_list("id", "external_id"))
        room = max(MAX_FAILURES_KEPT - len(run.failures), 0)
        added = [
            {"customer_id": str(cid), "external_id": names.get(cid), "error": repr(error)[:500]}
            for cid, error in list(failures.items())[:room]
        ]
        run.failures = [*run.failures, *added]
        run.invoices_created = F("invoices_created") + created
        run.customers_failed = F("customers_failed") + len(failures)
        run.status = BillingRunStatus.FAILED
        run.save(update_fields=["updated_at", "failures", "invoices_created", "customers_failed", "status"])


def _record(run_id: Any, customer_id: Any, *, created: int = 0, error: Exception | None = None) -> None:
    if run_id is None:
        return
    if error is None:
        # The common case is one UPDATE (no lock-and-read round trips): counters move in SQL.
        changes: dict[str, Any] = {"updated_at": timezone.now()}
        if created:
            changes["invoices_created"] = F("invoices_created") + created
        BillingRun.objects.filter(id=run_id).update(**changes)
        return
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().filter(id=run_id).first()
        if run is None:
            return
        fields = ["updated_at"]
        if created:
            run.invoices_created = F("invoices_created") + created
            fields.append("invoices_created")
        if error is not None:
            run.customers_failed = F("customers_failed") + 1
            fields.append("customers_failed")
            if len(run.failures) < MAX_FAILURES_KEPT:
                external_id = Customer.objects.filter(id=customer_id).values_list("external_id", flat=True).first()
                run.failures = [
                    *run.failures,
                    {"customer_id": str(customer_id), "external_id": external_id, "error": repr(error)[:500]},
                ]
                fields.append("failures")
            run.status = BillingRunStatus.FAILED
            fields.append("status")
        run.save(update_fields=fields)


def billing_run_finish(run_id: Any) -> None:
    BillingRun.objects.filter(id=run_id, status=BillingRunStatus.RUNNING).update(
        status=BillingRunStatus.SUCCEEDED, finished_at=timezone.now()
    )
    BillingRun.objects.filter(id=run_id, finished_at__isnull=True).update(finished_at=timezone.now())
