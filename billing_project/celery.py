"""The Celery app. The beat schedule is declared once, here, and loaded into django-celery-beat."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals
from celery.schedules import crontab

from billing_project.core.heap import tune_garbage_collection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")

# Every task publishes through billing_project.core.broker.Task: a broker that fails costs the
# caller a bounded wait and a logged, counted failure, never an exception (the sweepers catch up).
app = Celery("bxb", task_cls="billing_project.core.broker:Task")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def _require_secret_key(**kwargs) -> None:
    """A worker or beat refuses to start without SECRET_KEY when DEBUG is off (as the web does)."""
    from django.core.exceptions import ImproperlyConfigured

    from billing_project.core.secret_key import require_secret_key

    try:
        require_secret_key()
    except ImproperlyConfigured as exc:  # Celery logs and ignores a receiver's Exception
        raise SystemExit(f"ImproperlyConfigured: {exc}") from exc


def visibility_timeout_problem() -> str | None:
    """A visibility timeout shorter than a worker can hold a message (its countdown, then its run
    time) would have Redis hand a task still waiting or running to a second worker."""
    from django.conf import settings

    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    held = settings.CELERY_TASK_TIME_LIMIT + settings.CELERY_COUNTDOWN_MAX_SECONDS
    if visibility <= held:
        return (
            f"BROKER_VISIBILITY_TIMEOUT ({visibility} s) must exceed CELERY_TASK_TIME_LIMIT + the longest "
            f"countdown ({held} s)"
        )
    return None


@signals.worker_init.connect
def _require_visibility_timeout(**kwargs) -> None:
    problem = visibility_timeout_problem()
    if problem:
        raise SystemExit(f"ImproperlyConfigured: {problem}")


# Garbage collection in the workers: start-up objects frozen, fewer collections
# (billing_project/core/heap.py, measured in bench/RESULTS.md "Billing run").
@signals.worker_process_init.connect  # each prefork child, after the fork
@signals.worker_ready.connect  # the main process (solo and thread pools run tasks there)
def _tune_garbage_collection(**kwargs) -> None:
    tune_garbage_collection()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(task: Any = None, **kwargs: Any) -> None:
    """A worker keeps its database connection from task to task (`CELERY_DB_REUSE_MAX`: Celery's
    Django fix-up would close it after every one, and each task would connect to PostgreSQL again:
    measured 14 -> 18 PDF tasks per second, bench/RESULTS.md "Invoice PDFs"), with the hygiene
    Django gives requests: before and after each task, a connection that is broken, left in a
    transaction or older than CONN_MAX_AGE is closed (`close_old_connections`). Not for an eager
    task: it runs inside its caller's request or transaction."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@signals.setup_logging.connect
def _django_logging(**kwargs) -> None:
    """Workers and beat log as the web does: Django's LOGGING (JSON lines, `LOG_LEVEL`, URLs
    redacted). A receiver of this signal makes Celery leave logging alone, so its `--loglevel`
    (default WARNING) no longer overrides LOG_LEVEL on the root logger."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def _run(task: str, schedule: crontab, *args: str) -> dict[str, Any]:
    """A beat entry: `task` on `schedule`, with `args` when it takes any."""
    return {"task": task, "schedule": schedule, "args": args} if args else {"task": task, "schedule": schedule}


# The one place periodic work is declared. django-celery-beat's DatabaseScheduler copies these
# entries into its tables at start-up, where ops can see, pause and re-time them in the admin.
BEAT_SCHEDULE: dict[str, dict] = {
    # Webhook retries that are due, and deliveries whose on-commit hook was lost.
    "webhooks-sweep-deliveries": _run("webhooks.tasks.webhook_deliveries_sweep", crontab(minute="*/5")),
    # Yesterday's hourly usage rollups rebuilt from raw events (late events, metrics created later).
    "metering-rollup-usage-daily": _run("metering.tasks.usage_rollups_daily_task", crontab(hour=0, minute=30)),
    # Events committed in PostgreSQL and not yet in ClickHouse (replays the gap after an outage;
    # a no-op without CLICKHOUSE_URL).
    "metering-clickhouse-flush": _run("metering.tasks.clickhouse_flush_task", crontab(minute="*")),
    # Inserts into the ClickHouse store of record older than a minute settled: transactions that
    # did not commit recorded, so usage reads from the pre-aggregated states stay exact and ask
    # PostgreSQL about the last minute's inserts only (a no-op without CLICKHOUSE_URL).
    "metering-clickhouse-settle": _run("metering.tasks.clickhouse_settle_task", crontab(minute="*")),
    # Events stored before ClickHouse was switched on, copied organization by organization; until
    # an organization's copy is complete and verified, its usage is read from PostgreSQL (a no-op
    # without CLICKHOUSE_URL; `manage.py clickhouse_backfill` by hand).
    "metering-clickhouse-backfill": _run("metering.tasks.clickhouse_backfill_sweep", crontab(minute="*")),
    # Pending subscriptions and scheduled downgrades start at their boundary, a local midnight of
    # the customer's timezone (so every 15 minutes rather than once at 00:00 UTC).
    "subscriptions-activations": _run("subscriptions.sweep", crontab(minute="*/15"), "activations"),
    "subscriptions-trials": _run("subscriptions.sweep", crontab(minute=0), "trials"),
    "subscriptions-endings": _run("subscriptions.sweep", crontab(minute="*/15"), "endings"),
    "subscriptions-termination-alerts": _run("subscriptions.sweep", crontab(hour=0, minute=10), "termination_alerts"),
    # The billing run: customers whose billing day has come in their timezone, one task each.
    "invoicing-billing-sweep": _run("invoicing.billing_sweep", crontab(minute=5)),
    # Drafts whose grace period ended are refreshed and finalized.
    "invoicing-finalize-drafts": _run("invoicing.finalize_drafts_sweep", crontab(minute=20)),
    # Paid pay-in-advance fees of `regroup_paid_fees: "invoice"` charges, grouped at their period end.
    "invoicing-regroup-paid-fees": _run("invoicing.regroup_paid_fees_sweep", crontab(minute=10)),
    # Finalized invoices and credit notes whose PDF task was lost (a worker killed, a broker restart).
    "invoicing-pdfs-sweep": _run("invoicing.pdfs_sweep", crontab(minute="*/15")),
    # Pay-in-advance events with neither a fee nor a recorded failure (a lost task, an outage) are
    # billed now (docs/invoicing.md §7; manage.py reconcile_pay_in_advance_fees).
    "invoicing-pay-in-advance-reconcile": _run("invoicing.pay_in_advance_reconcile_sweep", crontab(minute="*/10")),
    # Finalized, unpaid invoices past their payment due date become payment_overdue.
    "invoicing-mark-overdue": _run("invoicing.mark_overdue", crontab(minute=35)),
    # Wallets: expired ones terminated, recurring top-ups (interval and threshold), ongoing balances.
    "invoicing-wallets-sweep": _run("invoicing.wallets_sweep", crontab(minute=45)),
    # Subscriptions ingestion marked but no evaluation task handled (alerts, progressive billing).
    "usage-monitoring-sweep": _run("usage_monitoring.sweep", crontab(minute="*")),
    # Payment retries that are due (1, 3, 5, 7 days), attempts left pending, early provider events.
    "payments-retry-sweep": _run("payments.retry_sweep", crontab(minute="*/10")),
    # Dunning campaigns: payment requests for overdue balances, once a day.
    "payments-dunning": _run("payments.dunning", crontab(hour=8, minute=0)),
    # Audit log entries older than AUDIT_RETENTION_DAYS are deleted, once a day.
    "audit-cleanup": _run("audit.cleanup", crontab(hour=3, minute=15)),
    # API logs older than API_LOGS_RETENTION_DAYS are deleted, once a day.
    "audit-api-logs-cleanup": _run("audit.api_logs_cleanup", crontab(hour=3, minute=25)),
    # UCP order-event webhooks that are due (retries, deliveries whose on-commit hook was lost),
    # and idempotency records past their 48 hours.
    "ucp-order-events-sweep": _run("ucp.order_events_sweep", crontab(minute="*")),
}
app.conf.beat_schedule = BEAT_SCHEDULE

# Every beat entry's twin: the `manage.py` command that does the same by hand (for a date, with a
# dry run). A test fails when an entry is added without one (docs/operations.md, "Beat").
BEAT_COMMANDS: dict[str, str] = {
    "webhooks-sweep-deliveries": "webhooks_sweep",
    "metering-rollup-usage-daily": "rollup_usage_daily",
    "metering-clickhouse-flush": "clickhouse_sync",
    "metering-clickhouse-settle": "clickhouse_sync --settle",
    "metering-clickhouse-backfill": "clickhouse_backfill",
    "subscriptions-activations": "run_subscription_jobs --job activations",
    "subscriptions-trials": "run_subscription_jobs --job trials",
    "subscriptions-endings": "run_subscription_jobs --job endings",
    "subscriptions-termination-alerts": "run_subscription_jobs --job termination_alerts",
    "invoicing-billing-sweep": "run_billing",
    "invoicing-finalize-drafts": "finalize_drafts",
    "invoicing-regroup-paid-fees": "regroup_paid_fees",
    "invoicing-pay-in-advance-reconcile": "reconcile_pay_in_advance_fees",
    "invoicing-pdfs-sweep": "regenerate_pdfs",
    "invoicing-mark-overdue": "mark_overdue",
    "invoicing-wallets-sweep": "wallets_sweep",
    "usage-monitoring-sweep": "evaluate_usage",
    "payments-retry-sweep": "retry_payments",
    "payments-dunning": "run_dunning",
    "audit-cleanup": "audit_cleanup",
    "audit-api-logs-cleanup": "api_logs_cleanup",
    "ucp-order-events-sweep": "ucp_sweep",
}
