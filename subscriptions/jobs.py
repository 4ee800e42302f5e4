"""The periodic subscription jobs: sweepers that find what is due and fan out one task per row.

Declared in `billing_project/celery.py` (BEAT_SCHEDULE) and runnable by hand with
`manage.py run_subscription_jobs --job <name> [--at ISO] [--dry-run]`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db.models import QuerySet

from subscriptions import selectors
from subscriptions.services.lifecycle import termination_alert_days

# Job name → the rows due at a given instant.
JOBS: dict[str, Callable[[datetime], QuerySet]] = {
    # Pending subscriptions whose start (or scheduled downgrade) has come.
    "activations": selectors.due_activations,
    # Trials that ended: `subscription.trial_ended` (an in-advance plan starts billing then).
    "trials": selectors.due_trial_ends,
    # `ending_at` reached: terminate.
    "endings": selectors.due_endings,
    # `subscription.termination_alert` 45 and 15 days (SUBSCRIPTION_TERMINATION_ALERT_DAYS) before `ending_at`.
    "termination_alerts": lambda at: selectors.endings_within(at, max(termination_alert_days())),
}


def due_ids(job: str, at: datetime) -> list[str]:
    return [str(pk) for pk in JOBS[job](at).values_list("id", flat=True)]


def run(job: str, at: datetime, *, dry_run: bool = False) -> list[str]:
    """Enqueue one task per due row (nothing with `dry_run`); returns the ids found."""
    from subscriptions import tasks

    ids = due_ids(job, at)
    if not dry_run:
        for subscription_id in ids:
            tasks.JOB_TASKS[job].delay(subscription_id, at.isoformat())
    return ids
