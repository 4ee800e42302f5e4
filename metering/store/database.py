"""Reads of the Django database's events and hourly rollups, shared by PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, DecimalField, F, Func, Max, Q, QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform

from metering import computations
from metering.computations import Row
from metering.models import Event, UsageRollup
from metering.store.base import Additive

if TYPE_CHECKING:
    from customers.models import Organization


def events_in(organization: Organization, sub: str, code: str, start: datetime, end: datetime) -> QuerySet[Event]:
    return Event.objects.filter(
        organization=organization, external_subscription_id=sub, code=code, timestamp__gte=start, timestamp__lt=end
    )


def ceil_hour(moment: datetime) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(hours=1)


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def load_rows(
    organization: Organization, sub: str, code: str, start: datetime, end: datetime, keys: Sequence[str]
) -> list[Row]:
    """Events of the window with only the property keys aggregation needs (as text)."""
    if start >= end:
        return []
    annotations = {f"k{i}": KeyTextTransform(key, "properties") for i, key in enumerate(keys)}
    qs = (
        events_in(organization, sub, code, start, end)
        .annotate(**annotations)
        .values_list("timestamp", "value", "precise_total_amount_cents", "created_at", "transaction_id", *annotations)
    )
    rows = []
    for timestamp, value, precise, created_at, transaction_id, *props in qs.iterator(chunk_size=5000):
        rows.append(
            Row(
                timestamp=timestamp,
                value=value,
                properties={key: computations.text_of(p) for key, p in zip(keys, props, strict=True)},
                precise_total_amount_cents=precise,
                created_at=created_at,
                transaction_id=transaction_id,
            )
        )
    return rows


def additive_by_dimensions(
    organization: Organization,
    sub: str,
    code: str,
    start: datetime,
    end: datetime,
    keys: Sequence[str],
    *,
    moments: bool = False,
) -> dict[tuple[str | None, ...], Additive] | None:
    """count / sum / max per dimension values over [start, end): rollups for whole hours, raw edges.

    `moments` (PostgreSQL): also Σ value × Unix seconds (`Additive.moment`); None when a rollup of
    the window was written before that column existed (null until rebuilt)."""
    result: dict[tuple[str | None, ...], Additive] = {}
    if start >= end:
        return result
    first_hour, last_hour = ceil_hour(start), floor_hour(end)
    if first_hour >= last_hour:
        edges = [(start, end)]
    else:
        edges = [(start, first_hour), (last_hour, end)]
        rollups = (
            UsageRollup.objects.filter(
                organization=organization,
                external_subscription_id=sub,
                code=code,
                hour__gte=first_hour,
                hour__lt=last_hour,
            )
            .values("dimensions_key", "dimensions")
            .annotate(c=Sum("events_count"), s=Sum("value_sum"), m=Max("value_max"), p=Sum("precise_sum"))
        )
        if moments:
            rollups = rollups.annotate(t=Sum("value_time_sum"), unknown=Count("id", filter=Q(value_time_sum=None)))
        for row in rollups:
            if moments and row["unknown"]:
                return None
            dims = row["dimensions"] or {}
            key = tuple(dims.get(k) for k in keys)
            result.setdefault(key, Additive()).add(int(row["c"] or 0), row["s"], row["m"], row["p"], row.get("t"))
    annotations = {f"k{i}": KeyTextTransform(key, "properties") for i, key in enumerate(keys)}
    for edge_start, edge_end in edges:
        if edge_start >= edge_end:
            continue
        # The partial hours at the edges, aggregated by the database per dimension values.
        edge = events_in(organization, sub, code, edge_start, edge_end)
        sums: dict[str, Any] = {
            "c": Count("id"),
            "s": Sum("value"),
            "m": Max("value"),
            "p": Sum("precise_total_amount_cents"),
        }
        if moments:
            sums["t"] = Sum(F("value") * UnixSeconds("timestamp"), output_field=DecimalField())
        if annotations:
            grouped = list(edge.annotate(**annotations).values(*annotations).annotate(**sums).order_by())
        else:
            grouped = [edge.aggregate(**sums)]
        for row in grouped:
            if not row["c"]:
                continue
            key = tuple(computations.text_of(row[name]) for name in annotations)
            result.setdefault(key, Additive()).add(int(row["c"]), row["s"], row["m"], row["p"], row.get("t"))
    return result


class UnixSeconds(Func):
    """PostgreSQL: a timestamp as exact Unix seconds (numeric, microseconds kept)."""

    template = "extract(epoch FROM %(expressions)s)"
    output_field = DecimalField()


class DatabaseReader:
    """Events and hourly rollups in the Django database (SQLite's dialect; PostgreSQL's reader
    extends it)."""

    name = "rollups"
    # Computed by the database without filters or grouping (`metering.aggregation`); a weighted
    # sum needs window functions over exact numerics (PostgreSQL's reader).
    sql_aggregations: frozenset[str] = frozenset({"latest_agg", "unique_count_agg"})
    # Answered from incremental state (PostgreSQL's reader): SQLite sums decimals as floats.
    state_aggregations: frozenset[str] = frozenset()

    def __init__(self, organization: Organization, sub: str, code: str):
        self.organization, self.sub, self.code = organization, sub, code

    def rows(self, start: datetime, end: datetime, keys: Sequence[str]) -> list[Row]:
        return load_rows(self.organization, self.sub, self.code, start, end, keys)

    def additive(self, start: datetime, end: datetime, keys: Sequence[str]) -> dict[tuple[str | None, ...], Additive]:
        return additive_by_dimensions(self.organization, self.sub, self.code, start, end, keys) or {}

    def moments(
        self, start: datetime, end: datetime, keys: Sequence[str]
    ) -> dict[tuple[str | None, ...], Additive] | None:
        return additive_by_dimensions(self.organization, self.sub, self.code, start, end, keys, moments=True)

    def events(self, start: datetime, end: datetime) -> QuerySet[Event]:
        return events_in(self.organization, self.sub, self.code, start, end)

    def binary(self, field_name: str) -> Any:
        """`field_name` ordered by codepoint, as Python compares strings (SQLite's default)."""
        return F(field_name)

    def weighted_sum(self, start: datetime, end: datetime, initial: Decimal, period: Decimal) -> Decimal:
        raise NotImplementedError("weighted sums are computed in Python on this database")

    def unique_count(self, start: datetime, end: datetime, field_name: str) -> Decimal:
        raise NotImplementedError("this database keeps no unique-count state")
