"""Argument helpers shared by the metering commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import CommandError
from django.utils.dateparse import parse_date, parse_datetime

from customers.management.commands.create_api_key import find_organization
from metering.clickhouse import store

__all__ = ["add_organizations_option", "check_copy_options", "find_organization", "parse_moment"]


def parse_moment(text: str, name: str) -> datetime:
    """An ISO date (midnight UTC) or datetime (UTC when naive)."""
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise CommandError(f"--{name}: expected an ISO date or datetime, got {text!r}")
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def check_copy_options(options: dict) -> None:
    """What the commands copying events to ClickHouse refuse first: no ClickHouse configured, a
    `--batch-size` outside 1..100000."""
    if not store.enabled():
        raise CommandError("CLICKHOUSE_URL is not set")
    if not 1 <= options["batch_size"] <= 100_000:
        raise CommandError("--batch-size must be between 1 and 100000")


def add_organizations_option(parser: Any, help: str) -> None:
    """`--organization ORG`, repeatable: organizations by id or by a name no other has (`find_organization`)."""
    parser.add_argument("--organization", action="append", default=[], metavar="ORG", help=help)
