"""Beat's scheduler: django-celery-beat's `DatabaseScheduler`, except that a beat restart keeps what
ops changed in the admin (docs/operations.md, "Beat and its schedule").

django-celery-beat copies the schedule declared in code (`billing_project/celery.py`) over the
database rows at every start, so an entry re-timed in the admin went back to the code's timing at
the next restart (pausing survived: `enabled` is not copied). Here each row records, on the last
line of its description, the schedule and arguments the code gave it. At start-up:

- a row whose schedule and arguments are still what the code gave it follows the code (so a new
  release that re-times an entry takes effect);
- a row changed in the admin since (its schedule or arguments differ from the recorded ones) is
  kept as ops left it, and beat logs that it keeps it (and the code's new default, when that moved);
- a new entry is created from the code.

To give an entry back to the code, delete its row in the admin: the next start creates it again.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler as BeatDatabaseScheduler

logger = logging.getLogger(__name__)
MARK = "bxb default: "


def _schedule_text(row: Any) -> str:
    if row.crontab_id:
        c = row.crontab
        return f"crontab {c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week} {c.timezone}"
    if row.interval_id:
        return f"every {row.interval.every} {row.interval.period}"
    for field in ("solar", "clocked"):
        if getattr(row, f"{field}_id", None):
            return f"{field} {getattr(row, field)}"
    return "none"


def signature(row: Any) -> str:
    """What the code decides about an entry: task, schedule and arguments (as stored on the row)."""
    args = json.dumps(json.loads(row.args or "[]"))
    kwargs = json.dumps(json.loads(row.kwargs or "{}"), sort_keys=True)
    return f"{row.task} | {_schedule_text(row)} | args {args} | kwargs {kwargs}"


def recorded(description: str) -> str | None:
    lines = (description or "").strip().splitlines()
    return lines[-1][len(MARK) :] if lines and lines[-1].startswith(MARK) else None


def _with_mark(description: str, text: str) -> str:
    lines = (description or "").strip().splitlines()
    if lines and lines[-1].startswith(MARK):
        lines = lines[:-1]
    return "\n".join([*lines, f"{MARK}{text}"])


class DatabaseScheduler(BeatDatabaseScheduler):
    def update_from_dict(self, mapping: dict[str, Any]) -> None:
        installed = {}
        for name, fields in mapping.items():
            try:
                entry = self._install(name, dict(fields))
            except Exception:
                logger.exception("beat: cannot install schedule entry %s", name)
                continue
            if entry.model.enabled:
                installed[name] = entry
        self.schedule.update(installed)

    def _install(self, name: str, fields: dict[str, Any]) -> Any:
        code = self.Entry._unpack_fields(**fields)
        row = PeriodicTask.objects.filter(name=name).first()
        code_row = PeriodicTask(name=name, **code)
        wanted = signature(code_row)
        if row is not None:
            was = recorded(row.description)
            now = signature(row)
            if was is not None and now != was:
                logger.info(
                    "beat: keeps %s as changed in the admin (%s); the code's default is %s",
                    name,
                    now,
                    wanted,
                    extra={"beat_entry": name},
                )
                return self.Entry(row, app=self.app)
            for key, value in code.items():
                setattr(row, key, value)
            row.description = _with_mark(row.description, wanted)
            row.save()
        else:
            row = code_row
            row.description = _with_mark("", wanted)
            row.save()
        return self.Entry(row, app=self.app)
