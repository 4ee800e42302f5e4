"""Celery tasks. Each takes ids, loads rows and calls one service; each is safe to run twice
(the service re-checks the state under a row lock)."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.utils import timezone

from subscriptions import jobs, services


def _at(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else timezone.now()


@shared_task(name="subscriptions.activate")
def activate_subscription(subscription_id: str, at: str | None = None) -> bool:
    return services.subscription_activate_due(subscription_id, at=_at(at))


@shared_task(name="subscriptions.end_trial")
def end_trial(subscription_id: str, at: str | None = None) -> bool:
    return services.subscription_end_trial(subscription_id, at=_at(at))


@shared_task(name="subscriptions.reach_ending")
def reach_ending(subscription_id: str, at: str | None = None) -> bool:
    return services.subscription_reach_ending(subscription_id, at=_at(at))


@shared_task(name="subscriptions.termination_alert")
def termination_alert(subscription_id: str, at: str | None = None) -> int | None:
    return services.subscription_send_termination_alert(subscription_id, at=_at(at))


@shared_task(name="subscriptions.terminate_for_customer")
def terminate_for_customer(customer_id: str) -> int:
    return services.subscriptions_terminate_for_customer(customer_id)


@shared_task(name="subscriptions.terminate_for_plan")
def terminate_for_plan(plan_id: str) -> int:
    return services.subscriptions_terminate_for_plan(plan_id)


@shared_task(name="subscriptions.propagate_fixed_charge_units")
def propagate_fixed_charge_units(fixed_charge_id: str, at: str, apply_units_immediately: bool, old_units: str) -> int:
    from decimal import Decimal

    from subscriptions.services.fixed_charges import fixed_charge_units_propagate

    return fixed_charge_units_propagate(
        fixed_charge_id, at=_at(at), apply_units_immediately=apply_units_immediately, old_units=Decimal(old_units)
    )


JOB_TASKS = {
    "activations": activate_subscription,
    "trials": end_trial,
    "endings": reach_ending,
    "termination_alerts": termination_alert,
}


@shared_task(name="subscriptions.sweep")
def sweep(job: str, at: str | None = None) -> int:
    """The beat entry point: find what `job` has due now and fan out one task per row."""
    return len(jobs.run(job, _at(at)))
