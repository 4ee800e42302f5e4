"""Periodic jobs: sweepers and the run_subscription_jobs command (dry-run, --at, twice is harmless)."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing_project.celery import BEAT_SCHEDULE
from subscriptions import jobs, services, tasks
from subscriptions.inputs import SubscriptionCreate
from subscriptions.models import Subscription
from tests.factories.subscriptions import SubscriptionPlanFactory

pytestmark = pytest.mark.django_db


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def setup(organization):
    SubscriptionPlanFactory(organization=organization, code="basic", amount_cents=10000)
    SubscriptionPlanFactory(organization=organization, code="starter", amount_cents=5000)
    SubscriptionPlanFactory(organization=organization, code="trial", amount_cents=5000, trial_period=3)

    def create(now, **extra):
        body = {"external_customer_id": "cust-1", "plan_code": "basic", **extra}
        return services.subscription_create(organization, SubscriptionCreate.from_validated(body), now=now)

    return create


def run(*args: str) -> str:
    out = StringIO()
    call_command("run_subscription_jobs", *args, stdout=out)
    return out.getvalue()


def test_command_runs_every_job_for_a_date(setup):
    future = setup(utc(2024, 1, 1), external_id="future", subscription_at="2024-02-01T00:00:00Z")
    downgraded = setup(utc(2024, 1, 1), external_id="down")
    setup(utc(2024, 1, 2), external_id="down", plan_code="starter")
    trial = setup(utc(2024, 1, 1), external_id="trial", plan_code="trial")
    ending = setup(utc(2024, 1, 1), external_id="ending", ending_at="2024-01-20T00:00:00Z")

    dry = run("--at", "2024-02-01T00:05:00Z", "--dry-run")
    assert "activations: 2 due" in dry
    assert "trials: 1 due" in dry
    assert "endings: 1 due" in dry
    assert Subscription.objects.filter(status="pending").count() == 2  # nothing changed

    output = run("--at", "2024-02-01T00:05:00Z")
    assert "activations: 2 processed" in output
    future.refresh_from_db()
    downgraded.refresh_from_db()
    trial.refresh_from_db()
    ending.refresh_from_db()
    assert future.status == "active" and future.started_at == utc(2024, 2, 1)
    assert downgraded.status == "terminated" and downgraded.termination_reason == "downgraded"
    assert Subscription.objects.get(external_id="down", status="active").plan.code == "starter"
    assert trial.trial_ended_at == utc(2024, 1, 4)
    assert ending.status == "terminated" and ending.terminated_at == utc(2024, 1, 20)

    again = run("--at", "2024-02-01T00:05:00Z")  # nothing left to do
    assert "activations: 0 processed" in again and "endings: 0 processed" in again


def test_termination_alert_job_and_single_job_option(setup):
    sub = setup(utc(2024, 1, 1), external_id="ending", ending_at="2024-03-01T00:00:00Z")
    assert run("--job", "termination_alerts", "--at", "2024-01-20T00:00:00Z") == (
        f"termination_alerts: 1 processed\n  {sub.pk}\n"
    )
    sub.refresh_from_db()
    assert sub.termination_alerts_sent == [45]
    assert jobs.due_ids("termination_alerts", utc(2024, 1, 20)) == [str(sub.pk)]
    assert tasks.termination_alert(str(sub.pk), "2024-01-21T00:00:00+00:00") is None  # already sent


def test_bad_date_refused():
    with pytest.raises(CommandError):
        run("--at", "soon")


def test_beat_schedule_declares_the_sweeps():
    declared = {entry["args"][0] for entry in BEAT_SCHEDULE.values() if entry["task"] == "subscriptions.sweep"}
    assert declared == set(jobs.JOBS)


def test_sweep_task_fans_out(setup):
    setup(utc(2024, 1, 1), external_id="future", subscription_at="2024-02-01T00:00:00Z")
    assert tasks.sweep("activations", "2024-01-15T00:00:00+00:00") == 0
    assert tasks.sweep("activations", "2024-02-01T00:00:00+00:00") == 1
    assert Subscription.objects.get(external_id="future").status == "active"
