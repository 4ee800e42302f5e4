"""Billing runs: what is due, cut into batches, billed by tasks, and a record that tells the truth.

    billing_run_plan(at, *, organization=None) -> RunPlan          what is due; writes nothing (dry run)
    billing_run_start(at, *, organization=None, trigger, batch_size=None) -> (BillingRun, due)
    billing_run_launch(at, *, organization=None, trigger) -> BillingRun | None   start + fan out on commit
    billing_run_batch(run_id, customer_ids, *, at, batch_id=None) -> invoices created
    billing_run_customer(run_id, customer_id, *, at) -> [Invoice]
    billing_run_check(run_id, *, seen=-1, checks=0) -> state       the watchdog (`invoicing.finish_run`)
    billing_run_finish(run_id) -> BillingRun                       close now (the command, at its end)

The record (docs/invoicing.md, "The billing run"):

- A run's customers are cut into `BillingRunBatch` rows when the run starts; each batch is billed
  by one `invoicing.bill_customers` task. A batch's counts (invoices created, customers failed and
  why) and its `reported_at` are written **in the transaction that commits its invoices**: a batch
  is reported exactly when its work is in the database, whatever happens to the worker after.
- The last batch to report closes the run: `succeeded`, or `failed` when customers failed (they are
  listed with their error and stay due, so the next sweep bills them once their data is fixed).
- A watchdog task checks the run a minute after the fan-out, then every `CHECK_SECONDS` while
  batches keep reporting. When a check finds no progress and batches still unreported (a worker
  was killed, a message lost in a broker restart), the run becomes `incomplete` with the missing
  batches' customers listed, and those batches are sent again at once (up to `MAX_RETRIES` times;
  billing is idempotent, so a batch that was only slow bills nothing twice). When they report, the
  run closes as above. A run still incomplete after its retries is left to the next hourly sweep.
- A database connection lost mid-batch (`pg_terminate_backend`, a failover) makes the batch fall
  back to billing its customers one by one; the dead connection is closed first and after every
  customer that fails, so one lost connection costs at most the customer it was serving.
- The run keeps `oldest_due_at`, when the oldest billing still uninvoiced became due: the due set
  when it starts, what is left (failed or missing customers) when it closes, nothing when all is
  billed. `/metrics` reads it as `bxb_billing_run_lag_seconds` (`billing_run_lag`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from customers.models import Customer
from invoicing.billing.run import BatchOutcome, customer_bill, customers_bill
from invoicing.billing.sweep import CustomerDue, billing_due
from invoicing.models import BillingRun, BillingRunBatch, BillingRunStatus, Invoice

logger = logging.getLogger(__name__)
MAX_FAILURES_KEPT = 200
MAX_MISSING_KEPT = 200
# Customers per `invoicing.bill_customers` task: a batch is billed set-based (a handful of queries
# and bulk inserts for all its customers), so bigger batches mean fewer statements per invoice,
# while each task stays short enough (well under a minute) to retry cheaply. BILLING_BATCH_SIZE.
BATCH_SIZE = settings.BILLING_BATCH_SIZE
# The watchdog: first look a minute after the fan-out, then every CHECK_SECONDS while batches keep
# reporting; missing batches are sent again at most MAX_RETRIES times.
FIRST_CHECK_SECONDS = 60
CHECK_SECONDS = 120
MAX_RETRIES = 3
# A run whose watchdog died with it (beat and workers restarted mid-run, the command killed): the
# next sweep closes runs still `running` after this long as incomplete.
STALE_AFTER = dt.timedelta(hours=2)


def batches(ids: list[Any], size: int | None = None) -> list[list[Any]]:
    """The sweep's fan-out: `ids` cut into consecutive batches of at most `size` (`BATCH_SIZE`)."""
    size = max(int(size or BATCH_SIZE), 1)
    return [ids[start : start + size] for start in range(0, len(ids), size)]


@dataclass(frozen=True)
class RunPlan:
    """What a run at `at` would bill: customers (with their due subscriptions and oldest due instant)."""

    at: dt.datetime
    due: dict[Any, CustomerDue]

    @property
    def customers(self) -> int:
        return len(self.due)

    @property
    def subscriptions(self) -> int:
        return sum(d.subscriptions for d in self.due.values())

    @property
    def oldest_due_at(self) -> dt.datetime | None:
        return min((d.oldest for d in self.due.values()), default=None)


def billing_run_plan(at: dt.datetime, *, organization: Any = None, customer_ids: list[Any] | None = None) -> RunPlan:
    """What is due at `at` (in each customer's timezone). Reads only: `run_billing --dry-run`, the
    console's preview. `customer_ids`: only those customers (a run's failures, billed again)."""
    return RunPlan(at=at, due=billing_due(at, organization=organization, customer_ids=customer_ids))


def billing_run_start(
    at: dt.datetime,
    *,
    organization: Any = None,
    trigger: str = "beat",
    batch_size: int | None = None,
    customer_ids: list[Any] | None = None,
) -> tuple[BillingRun, dict[Any, int]]:
    """Find what is due at `at`, record the run and its batches (one transaction). The caller fans
    out (`billing_run_launch` for the tasks, the command in its own process). Returns the run and
    {customer_id: subscriptions due}, in batch order."""
    plan = billing_run_plan(at, organization=organization, customer_ids=customer_ids)
    ids = list(plan.due)
    cut = batches(ids, batch_size)
    now = timezone.now()
    with transaction.atomic():
        run = BillingRun.objects.create(
            organization=organization,
            trigger=trigger,
            at=at,
            customers_due=plan.customers,
            subscriptions_due=plan.subscriptions,
            batches_total=len(cut),
            oldest_due_at=plan.oldest_due_at,
            status=BillingRunStatus.RUNNING if cut else BillingRunStatus.SUCCEEDED,
            finished_at=None if cut else now,
        )
        BillingRunBatch.objects.bulk_create(
            [
                BillingRunBatch(run=run, position=position, customer_ids=[str(c) for c in batch], dispatches=1)
                for position, batch in enumerate(cut)
            ]
        )
    return run, {customer_id: plan.due[customer_id].subscriptions for customer_id in ids}


def billing_run_launch(
    at: dt.datetime, *, organization: Any = None, trigger: str = "beat", customer_ids: list[Any] | None = None
) -> BillingRun:
    """Start a run and, once it is committed, send one `invoicing.bill_customers` task per batch
    and the watchdog. What the hourly beat sweep does, and the console's "start billing run" and
    "re-run failed customers" (`customer_ids`: only those, if still due)."""
    from invoicing import tasks

    billing_runs_close_stale()
    run, _ = billing_run_start(at, organization=organization, trigger=trigger, customer_ids=customer_ids)
    if run.batches_total == 0:
        return run
    run_id, iso = str(run.id), at.isoformat()
    sent = list(BillingRunBatch.objects.filter(run=run).order_by("position").values_list("id", "customer_ids"))

    def fan_out() -> None:
        for batch_id, customer_ids in sent:
            tasks.bill_customers.apply_async((customer_ids, iso, run_id), {"batch_id": str(batch_id)})
        tasks.finish_run.apply_async((run_id,), countdown=FIRST_CHECK_SECONDS)

    # A broker that refuses or stalls must not undo the committed run: the watchdog is lost with it,
    # and the next hourly sweep closes the stale run and bills its customers (still due).
    transaction.on_commit(fan_out, robust=True)
    return run


# --- billing a batch, a customer ----------------------------------------------------------------------


def _drop_dead_connection() -> None:
    """After a database error outside any transaction: if the server closed our connection
    (`pg_terminate_backend`, a failover, a restart) close it here, so the next statement opens a
    new one instead of failing on the dead one for every customer that follows."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def billing_run_batch(
    run_id: UUID | str | None, customer_ids: list[Any], *, at: dt.datetime, batch_id: UUID | str | None = None
) -> int:
    """Bill a batch of customers for a run (set-based, `run.customers_bill`); returns the
    number of invoices created.

    The invoices, the batch's report and the run's counters commit in one transaction. Customers that
    fail are recorded with their reason (the others are billed); they stay due, so the next sweep
    tries them again. If the batch cannot run as a whole (a database error outside any one customer,
    a lost connection), its customers are billed one by one, each with its record in its own
    transaction. A batch already reported (a message delivered twice) is not billed again."""
    try:
        with transaction.atomic():
            batch = _lock_batch(batch_id)
            if batch is not None and batch.reported_at is not None:
                return 0
            outcome = customers_bill(customer_ids, at=at)
            _report(run_id, batch, outcome)
    except Exception:
        logger.exception("billing batch failed as a whole; billing its %d customers one by one", len(customer_ids))
        return _bill_one_by_one(run_id, customer_ids, at=at, batch_id=batch_id)
    return outcome.invoices_created


def _lock_batch(batch_id: UUID | str | None) -> BillingRunBatch | None:
    if batch_id is None:
        return None
    # `of=("self",)`: the batch's row only. The model orders by `run`, which joins the run's row,
    # and a bare FOR UPDATE would lock that too: every batch of the run then held the run's row to
    # its commit, and the run's batches billed one after the other (bench/RESULTS.md, "Billing run").
    return BillingRunBatch.objects.select_for_update(of=("self",)).filter(id=batch_id).first()


def _bill_one_by_one(
    run_id: UUID | str | None, customer_ids: list[Any], *, at: dt.datetime, batch_id: UUID | str | None
) -> int:
    _drop_dead_connection()
    created = 0
    for customer_id in customer_ids:
        try:
            created += len(billing_run_customer(run_id, customer_id, at=at))
        except Exception:  # noqa: BLE001, S112 - recorded on the run by billing_run_customer
            continue
    if batch_id is not None:
        try:
            with transaction.atomic():
                batch = _lock_batch(batch_id)
                if batch is not None and batch.reported_at is None:
                    _report(run_id, batch, BatchOutcome(), counted=False)
        except Exception:
            # The database is gone for good: the batch stays unreported and the watchdog sends it again.
            logger.exception("billing run %s: batch %s could not be reported", run_id, batch_id)
            _drop_dead_connection()
    return created


def billing_run_customer(run_id: UUID | str | None, customer_id: UUID | str, *, at: dt.datetime) -> list[Invoice]:
    """Bill one customer for a run: the invoices and the run's counter in one transaction; a failure
    is recorded on the run (in its own transaction) and re-raised for Celery."""
    try:
        with transaction.atomic():
            try:
                invoices = customer_bill(customer_id, at=at)  # in its own savepoint
            except IntegrityError:
                # Someone else invoiced the same period between our look and our write: nothing to do.
                invoices = []
            _report(run_id, None, BatchOutcome(invoices={customer_id: invoices}))
    except Exception as exc:
        _drop_dead_connection()
        try:
            _report(run_id, None, BatchOutcome(failures={customer_id: exc}))
        except Exception:  # the database is unreachable: the customer stays due
            logger.exception("billing run %s: failure of customer %s could not be recorded", run_id, customer_id)
            _drop_dead_connection()
        raise
    return invoices


# --- the record ------------------------------------------------------------------------------------


def _report(
    run_id: UUID | str | None, batch: BillingRunBatch | None, outcome: BatchOutcome, *, counted: bool = True
) -> None:
    """Counts of a batch (or of one customer, `batch` None) onto the run, in the caller's transaction.

    `counted=False`: the batch's customers were counted one by one already; only mark it reported."""
    if run_id is None:
        return
    now = timezone.now()
    created = outcome.invoices_created if counted else 0
    failed = len(outcome.failures) if counted else 0
    if batch is not None:
        batch.reported_at = now
        batch.invoices_created += created
        batch.customers_failed += failed
        batch.save(update_fields=["reported_at", "invoices_created", "customers_failed", "updated_at"])
    for customer_id, error in outcome.failures.items():
        logger.warning("billing run %s: customer %s failed: %r", run_id, customer_id, error)
    changes: dict[str, Any] = {"updated_at": now}
    if created:
        changes["invoices_created"] = F("invoices_created") + created
    if failed:
        changes["customers_failed"] = F("customers_failed") + failed
    if batch is not None:
        changes["batches_reported"] = F("batches_reported") + 1
    if not outcome.failures and batch is None and not created:
        return
    with transaction.atomic(savepoint=False):  # the caller's transaction, when there is one
        if not outcome.failures:
            # The common case is one UPDATE (no lock-and-read round trip): counters move in SQL.
            BillingRun.objects.filter(id=run_id).update(**changes)
        else:
            run = BillingRun.objects.select_for_update().filter(id=run_id).first()
            if run is None:
                return
            names = dict(Customer.objects.filter(id__in=list(outcome.failures)).values_list("id", "external_id"))
            room = max(MAX_FAILURES_KEPT - len(run.failures), 0)
            added = [
                {"customer_id": str(cid), "external_id": names.get(cid), "error": repr(error)[:500]}
                for cid, error in list(outcome.failures.items())[:room]
            ]
            BillingRun.objects.filter(id=run_id).update(failures=[*run.failures, *added], **changes)
        if batch is not None:
            _close_if_complete(run_id)


def _close_if_complete(run_id: UUID | str) -> None:
    """Every batch reported: the run is closed (`succeeded`, or `failed` with its failures)."""
    run = (
        BillingRun.objects.select_for_update()
        .filter(id=run_id, batches_reported__gte=F("batches_total"))
        .exclude(status__in=[BillingRunStatus.SUCCEEDED, BillingRunStatus.FAILED])
        .first()
    )
    if run is not None:
        _close(run)


def _close(run: BillingRun) -> None:
    """Close a run whose batches all reported (the caller holds its row lock)."""
    left = _still_due(run, [f["customer_id"] for f in run.failures]) if run.customers_failed else {}
    run.status = BillingRunStatus.FAILED if run.customers_failed else BillingRunStatus.SUCCEEDED
    run.missing, run.customers_missing = [], 0
    run.oldest_due_at = min((d.oldest for d in left.values()), default=None)
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "missing", "customers_missing", "oldest_due_at", "finished_at", "updated_at"])


def _still_due(run: BillingRun, customer_ids: list[Any]) -> dict[Any, CustomerDue]:
    if not customer_ids:
        return {}
    return billing_due(run.at, organization=run.organization, customer_ids=customer_ids)


# --- the watchdog ----------------------------------------------------------------------------------


def billing_run_check(run_id: UUID | str, *, seen: int = -1, checks: int = 0) -> str:
    """The watchdog (`invoicing.finish_run`); `seen` is how many batches had reported at the
    previous look. Returns what it found: `closed`, `waiting` or `retried` (or `incomplete`, retries
    exhausted).

    All reported: the run is closed. Some unreported while others keep reporting: look again later.
    Some unreported and no progress since the last look: the run is `incomplete` with the missing
    batches' customers listed, and those batches are sent again after the commit."""
    from invoicing import tasks

    with transaction.atomic():
        run = BillingRun.objects.select_for_update().filter(id=run_id).first()
        if run is None or run.status in (BillingRunStatus.SUCCEEDED, BillingRunStatus.FAILED):
            return "closed"
        if run.batches_reported >= run.batches_total:
            _close(run)
            return "closed"
        state, resend = "waiting", []
        if run.batches_reported <= seen:
            resend = list(BillingRunBatch.objects.filter(run=run, reported_at__isnull=True).order_by("position"))
            _mark_incomplete(run, resend)
            if run.retries >= MAX_RETRIES:
                return "incomplete"
            state = "retried"
            run.retries += 1
            run.save(update_fields=["retries", "updated_at"])
            BillingRunBatch.objects.filter(id__in=[b.id for b in resend]).update(dispatches=F("dispatches") + 1)
        run_key, iso, reported = str(run.id), run.at.isoformat(), run.batches_reported
        sends = [(str(b.id), b.customer_ids) for b in resend]

        def send() -> None:
            for batch_id, customer_ids in sends:
                tasks.bill_customers.apply_async((customer_ids, iso, run_key), {"batch_id": batch_id})
            tasks.finish_run.apply_async((run_key,), {"seen": reported, "checks": checks + 1}, countdown=CHECK_SECONDS)

        transaction.on_commit(send, robust=True)
        return state


def _mark_incomplete(run: BillingRun, missing: list[BillingRunBatch]) -> None:
    customer_ids = [c for batch in missing for c in batch.customer_ids]
    left = _still_due(run, [*customer_ids, *(f["customer_id"] for f in run.failures)])
    run.status = BillingRunStatus.INCOMPLETE
    run.customers_missing = len(customer_ids)
    run.missing = customer_ids[:MAX_MISSING_KEPT]
    run.oldest_due_at = min((d.oldest for d in left.values()), default=None)
    run.save(update_fields=["status", "customers_missing", "missing", "oldest_due_at", "updated_at"])
    logger.error(
        "billing run %s incomplete: %d of %d batches never reported (%d customers); retry %d of %d",
        run.id,
        len(missing),
        run.batches_total,
        len(customer_ids),
        run.retries + 1,
        MAX_RETRIES,
        extra={"billing_run_id": str(run.id), "customers_missing": len(customer_ids)},
    )


def billing_run_finish(run_id: UUID | str) -> BillingRun | None:
    """Close a run now (the command, after its last batch): `succeeded`/`failed` when every batch
    reported, else `incomplete` with what is missing (no retry: the command's caller decides)."""
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().filter(id=run_id).first()
        if run is None or run.status in (BillingRunStatus.SUCCEEDED, BillingRunStatus.FAILED):
            return run
        if run.batches_reported >= run.batches_total:
            _close(run)
        else:
            _mark_incomplete(run, list(BillingRunBatch.objects.filter(run=run, reported_at__isnull=True)))
            run.finished_at = timezone.now()
            run.save(update_fields=["finished_at", "updated_at"])
        return run


def billing_runs_close_stale(now: dt.datetime | None = None) -> int:
    """Runs still `running` long after they started (their watchdog was lost): closed as they are
    (`incomplete` with what is missing). Their customers are still due, so the sweep bills them."""
    now = now or timezone.now()
    closed = 0
    for run_id in BillingRun.objects.filter(
        status=BillingRunStatus.RUNNING, created_at__lt=now - STALE_AFTER
    ).values_list("id", flat=True)[:100]:
        billing_run_finish(run_id)
        closed += 1
    return closed


# --- what ops watch --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunLag:
    """`lag_seconds`: age of the oldest due, uninvoiced billing the latest run over every organization
    knows of (0 when it billed everything); `sweep_age_seconds`: how long ago that run billed up to
    (beat stopped when it grows past an hour); both None before the first run."""

    lag_seconds: float | None
    sweep_age_seconds: float | None


def billing_run_lag(now: dt.datetime | None = None) -> RunLag:
    """Read at each `/metrics` scrape: one indexed row."""
    now = now or timezone.now()
    run = (
        BillingRun.objects.filter(organization__isnull=True, dry_run=False)
        .order_by("-at")
        .only("at", "oldest_due_at")
        .first()
    )
    if run is None:
        return RunLag(None, None)
    lag = max((now - run.oldest_due_at).total_seconds(), 0.0) if run.oldest_due_at else 0.0
    return RunLag(lag, max((now - run.at).total_seconds(), 0.0))


def billing_run_failed_customer_ids(run: BillingRun) -> list[str]:
    """The customers a run failed on (they stay due until a run bills them)."""
    return sorted({str(failure["customer_id"]) for failure in run.failures if failure.get("customer_id")})
