"""The sweeper (beat, every minute), its command, and the evaluation task."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing_project.celery import BEAT_SCHEDULE
from tests.factories.usage_monitoring import (
    alert_webhooks,
    make_alert,
    metered_subscription,
    send_events,
    webhook_endpoint,
)
from usage_monitoring import tasks
from usage_monitoring.models import TriggeredAlert, UsageActivity

pytestmark = pytest.mark.django_db


@pytest.fixture
def sub(organization):
    webhook_endpoint(organization)
    sub = metered_subscription(organization, started_at=timezone.now() - dt.timedelta(days=40), amount="1")
    make_alert(sub, "current_usage_amount", [("100", False)])
    return sub


def test_beat_runs_the_sweep_every_minute():
    entry = BEAT_SCHEDULE["usage-monitoring-sweep"]
    assert entry["task"] == "usage_monitoring.sweep"
    assert str(entry["schedule"]).startswith("<crontab: * *")


def test_a_lost_task_is_caught_by_the_sweep(sub, django_capture_on_commit_callbacks):
    send_events(sub, "units", 2, timezone.now())  # marked; the on-commit task is never run here
    assert TriggeredAlert.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep() == 1
    assert len(alert_webhooks(sub.organization)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep() == 0  # nothing marked since


def test_the_task_is_safe_twice(sub):
    send_events(sub, "units", 2, timezone.now())
    assert tasks.evaluate_subscription(str(sub.organization_id), sub.external_id) is True
    assert tasks.evaluate_subscription(str(sub.organization_id), sub.external_id) is False
    assert tasks.evaluate_subscription("00000000-0000-0000-0000-000000000000", sub.external_id) is False
    assert len(alert_webhooks(sub.organization)) == 1


def test_command_dry_run_then_sweep_then_forced(sub):
    send_events(sub, "units", 2, timezone.now())
    out = StringIO()
    call_command("evaluate_usage", "--dry-run", stdout=out)
    assert sub.external_id in out.getvalue() and "1 subscription(s) would be evaluated" in out.getvalue()
    assert TriggeredAlert.objects.count() == 0
    out = StringIO()
    call_command("evaluate_usage", stdout=out)
    assert "1 subscription(s) evaluated" in out.getvalue()
    assert UsageActivity.objects.get().processed_at is not None
    out = StringIO()
    call_command("evaluate_usage", "--all", stdout=out)
    assert "1 subscription(s) evaluated" in out.getvalue()
    out = StringIO()
    call_command(
        "evaluate_usage", "--subscription", sub.external_id, "--organization", str(sub.organization_id), stdout=out
    )
    assert "1 subscription(s) evaluated" in out.getvalue()
    assert TriggeredAlert.objects.count() == 1
