"""Pure aggregation arithmetic (no ORM): Lago's six aggregation types, filters and grouping.

Every function takes plain rows and returns exact Decimals. The aggregation service feeds it rows
from PostgreSQL/SQLite, rollups or ClickHouse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from typing import Any

ALL_FILTER_VALUES = "__ALL_FILTER_VALUES__"
ZERO = Decimal(0)
# Time-weighted sums divide; keep far more digits than any bill needs.
_PRECISE = Context(prec=40)
# Products and sums that must stay exact (Σ value × Unix seconds has up to 65 digits).
EXACT = Context(prec=100)
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """One event as aggregation sees it."""

    timestamp: datetime
    value: Decimal | None = None
    properties: Mapping[str, str | None] | None = None  # only the keys aggregation needs, as text
    precise_total_amount_cents: Decimal | None = None
    created_at: datetime | None = None
    transaction_id: str = ""  # the last tie-break of events with the same timestamp


def plain(value: Decimal) -> Decimal:
    """The same number without trailing zeros (and never in exponent notation): 5.000 -> 5."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1), context=_PRECISE)
    return value.normalize(_PRECISE)


def text_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --- filters ----------------------------------------------------------------------------------


def filter_matches(values: Mapping[str, Sequence[str]], properties: Mapping[str, str | None]) -> bool:
    for key, allowed in values.items():
        actual = properties.get(key)
        if actual is None:
            return False
        if ALL_FILTER_VALUES in allowed:
            continue
        if actual not in {text_of(v) for v in allowed}:
            return False
    return True


def assign_filter(
    filters: Sequence[tuple[Any, Mapping[str, Sequence[str]]]], properties: Mapping[str, str | None]
) -> Any:
    """The id of the most specific matching filter (most keys; on a tie the first given), else None.

    Lago: an event is counted once, by the filter that combines the most keys; an identical
    filter is counted by the oldest; unmatched events go to the default bucket (None).
    """
    best: Any = None
    best_keys = -1
    for filter_id, values in filters:
        if len(values) > best_keys and filter_matches(values, properties):
            best, best_keys = filter_id, len(values)
    return best


# --- per-type arithmetic ----------------------------------------------------------------------


def count(rows: Sequence[Row]) -> Decimal:
    return Decimal(len(rows))


def total(rows: Sequence[Row]) -> Decimal:
    return sum((r.value for r in rows if r.value is not None), ZERO)


def maximum(rows: Sequence[Row]) -> Decimal:
    values = [r.value for r in rows if r.value is not None]
    return max(values) if values else ZERO


def _order(row: Row) -> tuple:
    return (row.timestamp, row.created_at or row.timestamp, row.transaction_id)


def latest(rows: Sequence[Row]) -> Decimal:
    candidates = [r for r in rows if r.value is not None]
    if not candidates:
        return ZERO
    return max(candidates, key=_order).value or ZERO


def unique_count(rows: Sequence[Row], field_name: str) -> Decimal:
    """Distinct values present at the end of the window: `add` (default) adds, `remove` removes."""
    present: set[str] = set()
    for row in sorted(rows, key=_order):
        props = row.properties or {}
        value = props.get(field_name)
        if value is None:
            continue
        if (props.get("operation_type") or "add") == "remove":
            present.discard(value)
        else:
            present.add(value)
    return Decimal(len(present))


def seconds(delta: timedelta) -> Decimal:
    """A duration in seconds, exactly (timedelta.total_seconds() is a float)."""
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)


def weighted_level_seconds(
    rows: Sequence[Row], from_datetime: datetime, to_datetime: datetime, initial: Decimal = ZERO
) -> Decimal:
    """Σ level × seconds over [from, to): the numerator of the time-weighted sum."""
    level = initial
    cursor = from_datetime
    acc = ZERO
    for row in sorted(rows, key=_order):
        moment = min(max(row.timestamp, from_datetime), to_datetime)
        acc += level * seconds(moment - cursor)
        cursor = moment
        if row.value is not None:
            level += row.value
    return acc + level * seconds(to_datetime - cursor)


def divide_period(acc: Decimal, period: Decimal) -> Decimal:
    return _PRECISE.divide(acc, period)


def period_seconds(days: int) -> Decimal:
    """The divisor of a weighted sum over a charges period of `days` days: days × 86,400 (Lago's,
    whatever a daylight-saving change does to the period's real length)."""
    return Decimal(days * 86400)


def weighted_sum(
    rows: Sequence[Row],
    from_datetime: datetime,
    to_datetime: datetime,
    initial: Decimal = ZERO,
    period: Decimal | None = None,
) -> Decimal:
    """Time-weighted sum: Σ level × seconds over [from, to) ÷ `period` seconds, where each event
    moves a level. `period`: the whole charges period (`period_seconds(days)`), also when the
    window is only part of it (a first period starting mid-period, a terminated last period);
    None: the window is the whole period.

    Lago (weighted_sum_agg, interval seconds): 2,500 from 5 March to the end of a 31-day March →
    2500 × 27/31 = 2,177.419…; April with 2,500 carried, −2,000 on the 4th and −200 on the 6th →
    533.33….
    """
    divisor = seconds(to_datetime - from_datetime) if period is None else period
    if divisor <= 0 or to_datetime <= from_datetime:
        return ZERO
    return _PRECISE.divide(weighted_level_seconds(rows, from_datetime, to_datetime, initial), divisor)


def unix_seconds(moment: datetime) -> Decimal:
    """A timestamp as exact Unix seconds (6 decimal places), as PostgreSQL's `extract(epoch ...)`."""
    return seconds(moment - UNIX_EPOCH)


def weighted_sum_of_moments(
    total: Decimal,
    moment: Decimal,
    from_datetime: datetime,
    to_datetime: datetime,
    initial: Decimal = ZERO,
    period: Decimal | None = None,
) -> Decimal:
    """`weighted_sum` of the events of [from, to) known only by Σ value (`total`) and
    Σ value × Unix seconds (`moment`), both additive per hour (the rollups keep them).

    Each event moves the level from its time to the window's end, and ties do not matter (they
    last zero seconds), so Σ level × seconds = initial × (to − from) + Σ value × (to − t)
    = initial × (to − from) + to × total − moment, exactly; then divided as `weighted_sum` does.
    """
    divisor = seconds(to_datetime - from_datetime) if period is None else period
    if divisor <= 0 or to_datetime <= from_datetime:
        return ZERO
    acc = EXACT.subtract(
        EXACT.add(
            EXACT.multiply(initial, seconds(to_datetime - from_datetime)),
            EXACT.multiply(unix_seconds(to_datetime), total),
        ),
        moment,
    )
    return _PRECISE.divide(acc, divisor)


def event_values(rows: Sequence[Row], aggregation_type: str) -> tuple[Decimal, ...]:
    """Per-event values, in time order, for per-transaction pricing (percentage model)."""
    ordered = sorted(rows, key=_order)
    if aggregation_type == "count_agg":
        return tuple(Decimal(1) for _ in ordered)
    return tuple(r.value for r in ordered if r.value is not None)


def units_for(
    aggregation_type: str,
    rows: Sequence[Row],
    *,
    field_name: str | None,
    from_datetime: datetime,
    to_datetime: datetime,
    initial: Decimal = ZERO,
    period: Decimal | None = None,
) -> Decimal:
    """Units of one bucket. `period`: a weighted sum's divisor in seconds (`weighted_sum`)."""
    if aggregation_type == "count_agg":
        return count(rows)
    if aggregation_type == "sum_agg":
        return initial + total(rows)
    if aggregation_type == "max_agg":
        return maximum(rows)
    if aggregation_type == "latest_agg":
        return latest(rows)
    if aggregation_type == "unique_count_agg":
        return unique_count(rows, field_name or "")
    if aggregation_type == "weighted_sum_agg":
        return weighted_sum(rows, from_datetime, to_datetime, initial, period)
    raise ValueError(f"unsupported aggregation type {aggregation_type!r}")


def group_key(properties: Mapping[str, str | None] | None, keys: Sequence[str]) -> tuple[str | None, ...]:
    props = properties or {}
    return tuple(props.get(key) for key in keys)


def split(
    rows: Iterable[Row],
    filters: Sequence[tuple[Any, Mapping[str, Sequence[str]]]],
    grouped_by: Sequence[str],
) -> dict[Any, dict[tuple[str | None, ...], list[Row]]]:
    """Rows by filter bucket (None = default), then by group key."""
    buckets: dict[Any, dict[tuple[str | None, ...], list[Row]]] = {}
    for row in rows:
        bucket = assign_filter(filters, row.properties or {}) if filters else None
        group = group_key(row.properties, grouped_by)
        buckets.setdefault(bucket, {}).setdefault(group, []).append(row)
    return buckets
