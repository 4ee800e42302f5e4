"""The bounds every client input is checked against, in one place (docs/api-input.md).

Anything outside them is refused with a 4xx in Lago's error shape before it reaches the database,
where it would overflow a column or, worse, be stored and billed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

# Dates and times a client may send: from 2000-01-01T00:00:00Z to the end of 2100 (UTC).
MIN_YEAR = 2000
MAX_YEAR = 2100
MIN_DATETIME = dt.datetime(MIN_YEAR, 1, 1, tzinfo=dt.UTC)
MAX_DATETIME = dt.datetime(MAX_YEAR + 1, 1, 1, tzinfo=dt.UTC)  # exclusive
MIN_DATE = dt.date(MIN_YEAR, 1, 1)
MAX_DATE = dt.date(MAX_YEAR, 12, 31)

# Money in integer minor units sent by a client (a price, a fee, a coupon): at most 10^15, ten
# trillion dollars in cents; totals of thousands of such lines still fit a bigint.
MAX_AMOUNT_CENTS = 10**15

# List pages: `page` and `per_page` are integers from 1 to this (per_page is then capped at
# API_MAX_PER_PAGE).
MAX_PAGE = 2**31 - 1


def datetime_in_range(value: dt.datetime) -> bool:
    """Whether an aware datetime lies within the accepted years."""
    return MIN_DATETIME <= value < MAX_DATETIME


def date_in_range(value: dt.date) -> bool:
    return MIN_DATE <= value <= MAX_DATE


def client_datetime(value: Any) -> dt.datetime | None:
    """A date-time a client sent, as an aware UTC datetime, or None when it is not one or lies
    outside 2000..2100. Accepts an aware or naive (UTC) datetime, or RFC 3339 / ISO 8601 text; a
    date alone is its midnight UTC. Impossible dates (`2024-02-30`) and other text are None."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and 0 < len(value) <= 64:
        text = value.strip()
        if text[-1:] in "zZ":
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        parsed = parsed.astimezone(dt.UTC)
    except OverflowError:
        return None
    return parsed if datetime_in_range(parsed) else None


def rfc3339(value: dt.datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` in UTC, the year always four digits (strftime's `%Y` gives `1` for year 1)."""
    value = value.astimezone(dt.UTC)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
