"""Argument helpers shared by the metering commands."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import CommandError
from django.utils.dateparse import parse_date, parse_datetime

from customers.management.commands.create_api_key import find_organization

__all__ = ["find_organization", "parse_moment"]


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
