"""Running usage of a pay-in-advance charge, event by event (pure: no ORM).

    usage = RunningUsage(aggregation_type, field_name=..., filters=..., grouped_by=..., carried=...)
    step = usage.add(row)   # -> Step(bucket, before, after, units); usage.skip(row): billed already

The events of one usage window are fed in billing order; each `add` answers the usage of the
event's bucket before and after it, which `catalog.pricing.price_in_advance` turns into the fee
(docs/invoicing.md §7, docs/billing-semantics.md §5.3):

* bucket: the charge filter the event matches (the most specific, `computations.assign_filter`,
  the rule of the period-end aggregation; None: the default bucket), then its values of the
  charge's pricing group keys. Each bucket has its own usage, as at period end.
* `count_agg` adds 1, `sum_agg` the event's value (a recurring sum's buckets start with the values
  carried in from earlier periods, as Lago's aggregation from the subscription's start); a
  prorated charge adds that × the event's share of the period, rounded up to 5 places
  (`prorated.ceil_units`).
* `unique_count_agg` bills the bucket's peak: the highest number of distinct values present at
  once in the window (values carried in from earlier periods of a recurring metric count from
  the start). An event that raises the peak adds 1 unit (× its share when prorated); any other
  event (a value already present, a removal, a value added again below the peak) adds none, so
  its fee is 0. The step's `units` are Lago's units applied: 1 when the event makes a value
  present (also below the peak), 0 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from catalog.pricing import Usage
from metering import computations
from metering.computations import ZERO, Row
from metering.prorated import ceil_units

ONE = Decimal(1)
SUPPORTED = frozenset({"count_agg", "sum_agg", "unique_count_agg"})

BucketKey = tuple[Any, tuple[str | None, ...]]  # (charge filter id or None, group values)


@dataclass(frozen=True)
class Step:
    """One event's effect on its bucket."""

    bucket: BucketKey
    before: Usage
    after: Usage
    units: Decimal  # the fee's units


@dataclass
class _Bucket:
    units: Decimal = ZERO
    count: int = 0
    values: list[Decimal] = field(default_factory=list)
    present: set[str] = field(default_factory=set)  # unique count: values present now
    peak: int = 0  # unique count: the most values present at once

    def usage(self, *, with_values: bool) -> Usage:
        return Usage(units=self.units, events_count=self.count, event_values=tuple(self.values) if with_values else ())


def _is_remove(properties: Mapping[str, str | None]) -> bool:
    return (properties.get("operation_type") or "add") == "remove"


def keys_of(
    aggregation_type: str,
    *,
    field_name: str | None = None,
    filters: Sequence[tuple[Any, Mapping[str, Sequence[str]]]] = (),
    grouped_by: Sequence[str] = (),
) -> tuple[str, ...]:
    """The event properties a running usage reads: the filters' keys, the pricing group keys, a
    unique count's field and operation type."""
    keys = {key for _, values in filters for key in values} | set(grouped_by)
    if aggregation_type == "unique_count_agg":
        keys |= {field_name or "", "operation_type"}
    return tuple(sorted(keys))


class RunningUsage:
    """The usage of each bucket of one charge in one window, updated event by event.

    `filters`: the charge's live filters as `(id, {key: [values]})`, oldest first; `grouped_by`:
    its pricing group keys; `carried`: a recurring metric's events before the window (a sum's
    values start its buckets' units and counts, a unique count's values present at its start
    count in the peak); `share(row)`: the event's share of the period
    for a prorated charge (None: not prorated); `with_values`: keep each event's units
    (percentage with free units or per-transaction bounds)."""

    def __init__(
        self,
        aggregation_type: str,
        *,
        field_name: str | None = None,
        filters: Sequence[tuple[Any, Mapping[str, Sequence[str]]]] = (),
        grouped_by: Sequence[str] = (),
        carried: Iterable[Row] = (),
        share: Callable[[Row], Decimal] | None = None,
        with_values: bool = False,
    ) -> None:
        if aggregation_type not in SUPPORTED:
            raise ValueError(f"no running usage for {aggregation_type!r}")
        self.aggregation_type = aggregation_type
        self.field_name = field_name or ""
        self.filters = list(filters)
        self.grouped_by = tuple(grouped_by)
        self.share = share
        self.with_values = with_values
        self.buckets: dict[BucketKey, _Bucket] = {}
        if aggregation_type == "unique_count_agg":
            for row in sorted(carried, key=computations._order):
                self._toggle(self._bucket(row), row)
            for bucket in self.buckets.values():
                bucket.peak = len(bucket.present)
                bucket.units = Decimal(bucket.peak)
                bucket.count = bucket.peak
                bucket.values = [ONE] * bucket.peak
        elif aggregation_type == "sum_agg":
            for row in carried:
                if row.value is not None:
                    bucket = self._bucket(row)
                    bucket.units += row.value
                    bucket.count += 1

    def bucket_of(self, row: Row) -> BucketKey:
        properties = row.properties or {}
        filter_id = computations.assign_filter(self.filters, properties) if self.filters else None
        return filter_id, computations.group_key(properties, self.grouped_by)

    def _bucket(self, row: Row) -> _Bucket:
        return self.buckets.setdefault(self.bucket_of(row), _Bucket())

    def _toggle(self, bucket: _Bucket, row: Row) -> bool:
        """Apply a unique-count event; True when it made a value present that was not."""
        properties = row.properties or {}
        value = properties.get(self.field_name)
        if value is None:
            return False
        if _is_remove(properties):
            bucket.present.discard(value)
            return False
        if value in bucket.present:
            return False
        bucket.present.add(value)
        return True

    def add(self, row: Row) -> Step:
        """Count the event in its bucket; its effect, to price it."""
        step = self._count(row, priced=True)
        assert step is not None
        return step

    def skip(self, row: Row) -> None:
        """Count an event billed already: it only moves the usage (no Usage is built, which keeps
        a window linear)."""
        self._count(row, priced=False)

    def _count(self, row: Row, *, priced: bool) -> Step | None:
        key = self.bucket_of(row)
        bucket = self.buckets.setdefault(key, _Bucket())
        before = bucket.usage(with_values=self.with_values) if priced else None
        if self.aggregation_type == "unique_count_agg":
            applied = self._toggle(bucket, row)
            raised = len(bucket.present) > bucket.peak
            bucket.peak = max(bucket.peak, len(bucket.present))
            event_units = ONE if raised else ZERO
            units: Decimal | None = ONE if applied else ZERO
            counted = 1 if raised else 0
        else:
            event_units = ONE if self.aggregation_type == "count_agg" else (row.value or ZERO)
            units = None
            counted = 1
        if self.share is not None and event_units:
            event_units = ceil_units(event_units * self.share(row))
        bucket.units += event_units
        bucket.count += counted
        if self.with_values and counted:
            bucket.values.append(event_units)
        if before is None:
            return None
        after = bucket.usage(with_values=self.with_values)
        return Step(
            bucket=key, before=before, after=after, units=after.units - before.units if units is None else units
        )
