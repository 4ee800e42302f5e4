"""What the periodic jobs' `manage.py` commands share: the instant to run as of (`--at`), a dry run,
optionally one organization and progress on stderr.

    class Command(JobCommand):
        help = "..."
        dry_run_help = "List the drafts; finalize nothing."
        organization_option = progress_option = True

        def run(self, now, *, dry_run, organization):
            for invoice_id in self.with_progress(due, len(due), "drafts"):
                ...
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing_project.core.lookup import by_id_or_unique_name
from billing_project.core.progress import Progress

T = TypeVar("T")

ORGANIZATION_HELP = "Only this organization (id, or a name no other has)."


def parse_instant(value: str | None, name: str) -> dt.datetime:
    """An ISO-8601 instant given to a command (UTC when naive), or now."""
    if not value:
        return timezone.now()
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CommandError(f"{name}: not a date: {value}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def command_organization(ref: str | None) -> Any:
    """The organization a command names (`--organization`, by id or a name no other has), None when
    not given; a CommandError when unknown or ambiguous."""
    if not ref:
        return None
    try:
        return by_id_or_unique_name(apps.get_model("customers", "Organization"), ref)
    except LookupError as exc:
        raise CommandError(str(exc)) from exc


class JobCommand(BaseCommand):
    """A periodic job by hand: `--at ISO`, `--dry-run`, and `--organization` / `--no-progress` where
    the subclass turns them on. Subclasses write `run`."""

    at_help = "Run as of this ISO datetime (UTC when naive)."
    dry_run_help = "Count what is due; change nothing."
    organization_option = False
    progress_option = False

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--at", help=self.at_help)
        if self.organization_option:
            parser.add_argument("--organization", help=ORGANIZATION_HELP)
        parser.add_argument("--dry-run", action="store_true", help=self.dry_run_help)
        if self.progress_option:
            parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        self.options = options
        self.run(
            parse_instant(options.get("at"), "--at"),
            dry_run=bool(options.get("dry_run")),
            organization=command_organization(options.get("organization")),
        )

    def run(self, now: dt.datetime, *, dry_run: bool, organization: Any) -> None:
        raise NotImplementedError

    def with_progress(self, items: Iterable[T], total: int, unit: str) -> Iterator[T]:
        """`items`, one by one, with a progress line on stderr (unless `--no-progress`)."""
        progress = Progress(total, unit, stream=self.stderr, enabled=not self.options.get("no_progress"))
        for item in items:
            yield item
            progress.advance()
        progress.done()
