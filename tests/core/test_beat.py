"""Beat: a restart keeps what ops re-timed in the admin, follows the code for untouched entries, and
every beat entry has a `manage.py` twin that ops can run by hand."""

from __future__ import annotations

import pytest
from celery.schedules import crontab
from django.core.management import get_commands
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from billing_project import beat
from billing_project.celery import BEAT_COMMANDS, BEAT_SCHEDULE, app

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch):
    """The scheduler closes stale connections between ticks; here that would be the test's own."""
    monkeypatch.setattr("django_celery_beat.schedulers.close_old_connections", lambda: None)


def _start_beat(schedule: dict) -> None:
    """What `celery beat` does at start-up with the code's schedule."""
    scheduler = beat.DatabaseScheduler(app=app, lazy=True)
    scheduler._finalize.cancel()
    scheduler.update_from_dict(schedule)


def _minute(name: str) -> str:
    return PeriodicTask.objects.select_related("crontab").get(name=name).crontab.minute


def test_a_beat_restart_keeps_what_ops_re_timed_and_follows_the_code_elsewhere(caplog):
    code = {
        "invoicing-billing-sweep": {"task": "invoicing.billing_sweep", "schedule": crontab(minute=5)},
        "invoicing-mark-overdue": {"task": "invoicing.mark_overdue", "schedule": crontab(minute=35)},
    }
    _start_beat(code)
    assert (_minute("invoicing-billing-sweep"), _minute("invoicing-mark-overdue")) == ("5", "35")
    row = PeriodicTask.objects.get(name="invoicing-billing-sweep")
    assert row.description.endswith(
        "bxb default: invoicing.billing_sweep | crontab 5 * * * * UTC | args [] | kwargs {}"
    )

    # Ops re-time the billing sweep and pause the overdue job in the admin.
    row.crontab = CrontabSchedule.objects.create(minute="50")
    row.save()
    PeriodicTask.objects.filter(name="invoicing-mark-overdue").update(enabled=False)
    # A new release moves both defaults; beat restarts.
    code["invoicing-billing-sweep"]["schedule"] = crontab(minute=7)
    code["invoicing-mark-overdue"]["schedule"] = crontab(minute=40)
    _start_beat(code)
    assert _minute("invoicing-billing-sweep") == "50"  # kept as ops left it
    assert "keeps invoicing-billing-sweep as changed in the admin" in caplog.text
    assert _minute("invoicing-mark-overdue") == "40"  # untouched by ops: follows the code
    assert PeriodicTask.objects.get(name="invoicing-mark-overdue").enabled is False  # still paused
    # Deleting the row gives the entry back to the code.
    PeriodicTask.objects.filter(name="invoicing-billing-sweep").delete()
    _start_beat(code)
    assert _minute("invoicing-billing-sweep") == "7"


def test_the_production_schedule_installs():
    _start_beat(BEAT_SCHEDULE)
    assert set(PeriodicTask.objects.values_list("name", flat=True)) >= set(BEAT_SCHEDULE)


def test_every_beat_entry_has_a_manage_py_twin():
    commands = get_commands()
    assert set(BEAT_SCHEDULE) == set(BEAT_COMMANDS), "a beat entry without its manage.py twin (or a stale one)"
    for entry, command in BEAT_COMMANDS.items():
        assert command.split()[0] in commands, f"{entry}: no command {command!r}"
