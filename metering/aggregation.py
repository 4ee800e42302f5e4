"""The aggregation service: exact usage of one subscription, metric and window.

    aggregate(organization, external_subscription_id=..., metric=..., from_datetime=..., to_datetime=...,
              filters=charge.filters, grouped_by=charge.pricing_group_keys,
              subscription_started_at=...) -> AggregationResult

The window is half-open `[from, to)`; events before the subscription started never count.
count/sum/max read the hourly rollups for whole hours and raw events for the partial hours at the
edges; the other types (and grouping) read raw events. Results feed `catalog.pricing.Usage`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.db.models import CharField, F, Value, Window
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, RowNumber

from billing_project.core.errors import UnavailableFailure
from catalog.pricing import Usage, apply_metric_rounding
from customers.models import Organization
from metering import computations
from metering import prorated as prorated_math
from metering.computations import ZERO, Row, plain
from metering.store import Additive, event_store, reader_for

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ROLLUP_TYPES = {"count_agg", "sum_agg", "max_agg"}
RECURRING_TYPES = {"count_agg", "sum_agg", "unique_count_agg", "weighted_sum_agg", "latest_agg"}
T = TypeVar("T")


class _Measured:
    """What a bucket and a whole window measure alike, as the pricing engine's `Usage`."""

    units: Decimal
    events_count: int
    event_values: tuple[Decimal, ...]
    precise_total_amount_cents: Decimal
    full_units: Decimal | None
    event_prorated_values: tuple[Decimal, ...]

    def as_usage(self) -> Usage:
        return Usage(
            units=self.units,
            events_count=self.events_count,
            event_values=self.event_values,
            precise_total_amount_cents=self.precise_total_amount_cents,
            full_units=self.full_units,
            event_prorated_values=self.event_prorated_values,
        )


@dataclass(frozen=True)
class BucketUsage(_Measured):
    """Usage of one bucket (the whole charge, one filter, or one group)."""

    units: Decimal
    events_count: int
    event_values: tuple[Decimal, ...] = ()
    precise_total_amount_cents: Decimal = ZERO
    grouped_by: Mapping[str, str | None] = field(default_factory=dict)
    # Prorated charges (`aggregate_prorated`): `units` are the prorated units, these the full ones.
    full_units: Decimal | None = None
    event_prorated_values: tuple[Decimal, ...] = ()
    # Lago's `total_aggregated_units` where it is not `units`: a weighted sum's level at the
    # window's end (its carried level plus the window's events). None: `units`.
    total_aggregated_units: Decimal | None = None


@dataclass(frozen=True)
class FilterUsage:
    """One charge filter's bucket (`filter_id` None is the default bucket), with its groups."""

    filter_id: Any
    values: Mapping[str, Sequence[str]]
    usage: BucketUsage
    groups: tuple[BucketUsage, ...] = ()


@dataclass(frozen=True)
class AggregationResult(_Measured):
    units: Decimal
    events_count: int
    event_values: tuple[Decimal, ...]
    precise_total_amount_cents: Decimal
    groups: tuple[BucketUsage, ...] = ()
    filters: tuple[FilterUsage, ...] = ()
    source: str = "events"  # "events", "rollups", "sql" or "clickhouse"
    full_units: Decimal | None = None  # prorated charges: the unprorated units
    event_prorated_values: tuple[Decimal, ...] = ()
    total_aggregated_units: Decimal | None = None  # weighted sums: the level at the end (BucketUsage)


@dataclass(frozen=True)
class MetricSpec:
    """The parts of a billable metric aggregation reads (a catalog.BillableMetric fits)."""

    code: str
    aggregation_type: str
    field_name: str | None = None
    recurring: bool = False
    rounding_function: str | None = None
    rounding_precision: int | None = None
    filter_keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, metric: Any, filter_keys: Iterable[str]) -> MetricSpec:
        """The spec of a billable metric (or an object with its attributes) whose live filters
        have the keys `filter_keys`."""
        return cls(
            code=metric.code,
            aggregation_type=metric.aggregation_type,
            field_name=metric.field_name or None,
            recurring=bool(getattr(metric, "recurring", False)),
            rounding_function=getattr(metric, "rounding_function", None) or None,
            rounding_precision=getattr(metric, "rounding_precision", None),
            filter_keys=tuple(sorted(filter_keys)),
        )


def metric_spec(metric: Any) -> MetricSpec:
    if isinstance(metric, MetricSpec):
        return metric
    filters = getattr(metric, "filters", None)
    if filters is None or not hasattr(filters, "filter"):
        return MetricSpec.of(metric, ())
    return MetricSpec.of(metric, filters.filter(deleted_at__isnull=True).values_list("key", flat=True))


def normalize_filters(filters: Iterable[Any] | None) -> list[tuple[Any, dict[str, list[str]]]]:
    """ChargeFilter rows, `(id, values)` pairs or `{"id", "values"}` dicts, oldest first."""
    normalized = []
    for item in filters or ():
        if isinstance(item, tuple):
            filter_id, values = item
        elif isinstance(item, Mapping):
            filter_id, values = item.get("id"), item["values"]
        else:
            filter_id, values = item.id, item.values
        normalized.append((filter_id, {str(k): [str(v) for v in vals] for k, vals in dict(values).items()}))
    return normalized


# --- reading events ---------------------------------------------------------------------------


# --- the service ------------------------------------------------------------------------------


def events_count_of(spec: MetricSpec, events: int, units: Decimal) -> int:
    """A bucket's `events_count`: the events aggregated, except for a unique count, whose count is
    the number of distinct values it counts (Lago sets the count to the aggregation), before the
    metric's rounding (docs/metering.md)."""
    if spec.aggregation_type == "unique_count_agg":
        return int(units)
    return events


@dataclass(frozen=True)
class _Measure:
    """A bucket's units, and a weighted sum's level at the window's end (else None)."""

    units: Decimal
    level: Decimal | None = None


def _bucket(
    spec: MetricSpec, rows: Sequence[Row], measure: _Measure, grouped_by: Mapping[str, str | None] | None = None
) -> BucketUsage:
    units = measure.units
    return BucketUsage(
        units=plain(apply_metric_rounding(units, spec.rounding_function, spec.rounding_precision)),
        events_count=events_count_of(spec, len(rows), units),
        event_values=tuple(plain(v) for v in computations.event_values(rows, spec.aggregation_type)),
        precise_total_amount_cents=plain(sum((r.precise_total_amount_cents or ZERO for r in rows), ZERO)),
        grouped_by=dict(grouped_by or {}),
        total_aggregated_units=plain(measure.level) if measure.level is not None else None,
    )


def aggregate(
    organization: Organization,
    *,
    external_subscription_id: str,
    metric: Any,
    from_datetime: datetime,
    to_datetime: datetime,
    filters: Iterable[Any] | None = None,
    grouped_by: Sequence[str] = (),
    subscription_started_at: datetime | None = None,
    use_rollups: bool = True,
    with_event_values: bool = False,
    store: str | None = None,
    charges_period_days: int | None = None,
) -> AggregationResult:
    """Exact usage of `metric` for one subscription over `[from_datetime, to_datetime)`.

    `filters`: the charge's filters (ChargeFilter rows or `(id, {key: [values]})`), oldest first;
    each event counts in the most specific filter it matches, else in the default bucket
    (`filter_id=None`). `grouped_by`: the charge's `pricing_group_keys`. Recurring metrics carry
    what happened since the subscription started. Units are rounded as the metric says.
    `event_values` (per-event units for percentage pricing) are always filled when
    `with_event_values=True`; count/sum/max answered from rollups leave them empty otherwise.
    `store`: "postgres", "clickhouse", or None = ClickHouse when configured and it holds every
    event this aggregation reads (`metering.clickhouse.backfill.readable`), else PostgreSQL. A
    ClickHouse read that fails or times out is answered by PostgreSQL (with `store=None`).
    `charges_period_days`: the days of the whole charges period holding the window; a weighted
    sum divides by them × 86,400 (Lago), also when the window is only part of the period (a
    first period starting mid-period, a terminated or upgraded last period). None: the window
    `[from_datetime, to_datetime)` is the whole period (docs/metering.md).
    """
    spec = metric_spec(metric)
    started = subscription_started_at or EPOCH
    start = max(from_datetime, started)
    recurring = spec.recurring and spec.aggregation_type in RECURRING_TYPES
    reader = reader_for(
        organization, external_subscription_id, spec.code, store, reads_from=started if recurring else start
    )

    def answer(source: Any) -> AggregationResult:
        return _aggregate(
            organization,
            external_subscription_id,
            spec,
            source,
            from_datetime=from_datetime,
            to_datetime=to_datetime,
            filters=filters,
            grouped_by=grouped_by,
            started=started,
            use_rollups=use_rollups,
            with_event_values=with_event_values,
            charges_period_days=charges_period_days,
        )

    return _read_or_fall_back(answer, reader, organization, external_subscription_id, spec.code, store)[0]


def _read_or_fall_back(
    read: Callable[[Any], T],
    reader: Any,
    organization: Organization,
    external_subscription_id: str,
    code: str,
    store: str | None,
) -> tuple[T, Any]:
    """`read(reader)` and the reader that answered: a ClickHouse that fails or times out is answered
    by the PostgreSQL store's reader, unless `store` asked for ClickHouse or ClickHouse is the
    organization's store of record (PostgreSQL does not hold its events: 503)."""
    if reader.name != "clickhouse":
        return read(reader), reader
    from billing_project.core import metrics
    from metering import clickhouse

    try:
        return read(reader), reader
    except clickhouse.Unavailable as exc:
        if store == "clickhouse":
            raise
        if organization.events_store == "clickhouse":
            raise UnavailableFailure("events_store_unavailable") from exc
        metrics.clickhouse_fallback("unavailable")
        fallback = event_store().reader(organization, external_subscription_id, code)
        return read(fallback), fallback


def _aggregate(
    organization: Organization,
    external_subscription_id: str,
    spec: MetricSpec,
    reader: Any,
    *,
    from_datetime: datetime,
    to_datetime: datetime,
    filters: Iterable[Any] | None,
    grouped_by: Sequence[str],
    started: datetime,
    use_rollups: bool,
    with_event_values: bool,
    charges_period_days: int | None,
) -> AggregationResult:
    charge_filters = normalize_filters(filters)
    grouped_by = tuple(grouped_by or ())
    start = max(from_datetime, started)
    end = to_datetime
    recurring = spec.recurring and spec.aggregation_type in RECURRING_TYPES
    period = (
        computations.period_seconds(charges_period_days)
        if charges_period_days is not None
        else computations.seconds(to_datetime - from_datetime)
    )

    filter_keys = sorted({key for _, values in charge_filters for key in values})
    # ClickHouse's states also answer grouping by keys among the metric's filter keys (the
    # dimensions its views keep); PostgreSQL's rollups and state answer without grouping only.
    groupable = not grouped_by or (reader.name == "clickhouse" and set(grouped_by) <= set(spec.filter_keys))
    if (
        (use_rollups or reader.name == "clickhouse")
        and spec.aggregation_type in reader.state_aggregations
        and spec.aggregation_type == "weighted_sum_agg"
        and groupable
        and not with_event_values
        and set(filter_keys) <= set(spec.filter_keys)
    ):
        weighted = _aggregate_weighted(
            reader, spec, charge_filters, start, end, started, recurring, period, grouped_by=grouped_by
        )
        if weighted is not None:
            return weighted

    if (
        (use_rollups or reader.name == "clickhouse")
        and spec.aggregation_type in ROLLUP_TYPES
        and groupable
        and not with_event_values
        and set(filter_keys) <= set(spec.filter_keys)
    ):
        return _aggregate_additive(reader, spec, charge_filters, start, end, started, recurring, grouped_by=grouped_by)

    if (
        reader.name == "clickhouse"
        and spec.aggregation_type == "unique_count_agg"
        and (charge_filters or grouped_by)
        and groupable
        and not with_event_values
        and set(filter_keys) <= set(spec.filter_keys)
    ):
        unique = _aggregate_unique(reader, spec, charge_filters, grouped_by, start, end, started, recurring)
        if unique is not None:
            return unique

    if (
        use_rollups
        and spec.aggregation_type in reader.sql_aggregations
        and not charge_filters
        and not grouped_by
        and not with_event_values
    ):
        return _aggregate_in_sql(reader, spec, start, end, started, recurring, period)

    keys = sorted(set(filter_keys) | set(grouped_by) | _value_keys(spec))
    rows = reader.rows(start, end, keys)
    history: list[Row] = []
    initial = ZERO
    if recurring and start > started:
        # What happened since the subscription started carries into this window.
        history = reader.rows(started, start, keys)

    def units_of(bucket_rows: Sequence[Row], bucket_history: Sequence[Row]) -> _Measure:
        if spec.aggregation_type in ("sum_agg", "weighted_sum_agg"):
            base = computations.total(bucket_history) if bucket_history else initial
            units = computations.units_for(
                spec.aggregation_type,
                bucket_rows,
                field_name=spec.field_name,
                from_datetime=start,
                to_datetime=end,
                initial=base,
                period=period,
            )
            if spec.aggregation_type == "weighted_sum_agg":
                return _Measure(units, base + computations.total(bucket_rows))
            return _Measure(units)
        if spec.aggregation_type == "count_agg":
            return _Measure(Decimal(len(bucket_history) + len(bucket_rows)))
        return _Measure(
            computations.units_for(
                spec.aggregation_type,
                list(bucket_history) + list(bucket_rows),
                field_name=spec.field_name,
                from_datetime=start,
                to_datetime=end,
            )
        )

    overall = _bucket(spec, rows, units_of(rows, history))
    groups: tuple[BucketUsage, ...] = ()
    filter_results: tuple[FilterUsage, ...] = ()
    if grouped_by and not charge_filters:
        groups = _groups(spec, rows, history, grouped_by, units_of)
    if charge_filters:
        filter_results = _filter_buckets(
            rows,
            history,
            charge_filters,
            lambda bucket_rows, bucket_history: _bucket(spec, bucket_rows, units_of(bucket_rows, bucket_history)),
            (lambda r, h: _groups(spec, r, h, grouped_by, units_of)) if grouped_by else None,
        )
    return _window(overall, groups, filter_results, reader.name, total_aggregated_units=overall.total_aggregated_units)


_Rows = Sequence[Row]


def _filter_buckets(
    rows: _Rows,
    history: _Rows,
    charge_filters: Sequence[tuple[Any, Mapping[str, Sequence[str]]]],
    bucket: Callable[[_Rows, _Rows], BucketUsage],
    groups_of: Callable[[_Rows, _Rows], tuple[BucketUsage, ...]] | None,
) -> tuple[FilterUsage, ...]:
    """One bucket per charge filter, then the default bucket (`filter_id` None) of the rows no
    filter takes; each with its groups when the charge groups."""
    split_rows = computations.split(rows, charge_filters, ())
    split_history = computations.split(history, charge_filters, ())
    results = []
    for filter_id, values in [*charge_filters, (None, {})]:
        bucket_rows = split_rows.get(filter_id, {}).get((), [])
        bucket_history = split_history.get(filter_id, {}).get((), [])
        groups = groups_of(bucket_rows, bucket_history) if groups_of is not None else ()
        results.append(FilterUsage(filter_id, values, bucket(bucket_rows, bucket_history), groups))
    return tuple(results)


def _window(
    overall: BucketUsage,
    groups: tuple[BucketUsage, ...],
    filters: tuple[FilterUsage, ...],
    reader_name: str,
    **extra: Any,
) -> AggregationResult:
    """The window's result from its overall bucket (rollups are read as events)."""
    return AggregationResult(
        units=overall.units,
        events_count=overall.events_count,
        event_values=overall.event_values,
        precise_total_amount_cents=overall.precise_total_amount_cents,
        groups=groups,
        filters=filters,
        source="events" if reader_name == "rollups" else reader_name,
        **extra,
    )


def _aggregate_in_sql(
    reader: Any,
    spec: MetricSpec,
    start: datetime,
    end: datetime,
    started: datetime,
    recurring: bool,
    period: Decimal,
) -> AggregationResult:
    """latest / unique count / weighted sum (over `period` seconds) without filters or grouping,
    computed by the database (the types of `reader.sql_aggregations`)."""
    totals = Additive()
    for acc in reader.additive(start, end, ()).values():
        totals.add(acc.count, acc.total, acc.maximum, acc.precise)
    level: Decimal | None = None
    source = reader.name if reader.name == "clickhouse" else "sql"
    if spec.aggregation_type == "latest_agg":
        from metering.clickhouse.store import Reader as ClickHouseReader

        if isinstance(reader, ClickHouseReader):
            latest = reader.latest(started if recurring else start, end)
        else:
            scope = reader.events(started if recurring else start, end)
            latest = (
                scope.filter(value__isnull=False)
                .order_by("-timestamp", "-created_at", reader.binary("transaction_id").desc())
                .values_list("value", flat=True)
                .first()
            )
        units = latest if latest is not None else ZERO
    elif spec.aggregation_type == "weighted_sum_agg":
        period_start = start
        initial = ZERO
        if recurring and start > started:
            for acc in reader.additive(started, start, ()).values():
                initial += acc.total
        units = reader.weighted_sum(period_start, end, initial, period)
        level = initial + totals.total
    elif "unique_count_agg" in reader.state_aggregations:
        # From the unique-count state kept at ingestion (PostgreSQL), or computed by ClickHouse.
        units = reader.unique_count(started if recurring else start, end, spec.field_name or "")
        source = reader.name
    else:
        # A value counts when its last operation in the window is not `remove`.
        scope = reader.events(started if recurring else start, end)
        field_name = spec.field_name or ""
        last_ops = (
            scope.annotate(
                v=KeyTextTransform(field_name, "properties"),
                op=Coalesce(KeyTextTransform("operation_type", "properties"), Value("add"), output_field=CharField()),
            )
            .filter(v__isnull=False)
            .annotate(
                rn=Window(
                    RowNumber(),
                    partition_by=[F("v")],
                    order_by=[F("timestamp").desc(), F("created_at").desc(), reader.binary("transaction_id").desc()],
                )
            )
            .filter(rn=1)
            .values_list("op", flat=True)
        )
        units = Decimal(sum(1 for op in last_ops.iterator(chunk_size=10000) if op != "remove"))
    return AggregationResult(
        units=plain(apply_metric_rounding(units, spec.rounding_function, spec.rounding_precision)),
        events_count=events_count_of(spec, totals.count, units),
        event_values=(),
        precise_total_amount_cents=plain(totals.precise),
        source=source,
        total_aggregated_units=plain(level) if level is not None else None,
    )


def _value_keys(spec: MetricSpec) -> set[str]:
    if spec.aggregation_type == "unique_count_agg" and spec.field_name:
        return {spec.field_name, "operation_type"}
    return set()


def _groups(spec, rows, history, grouped_by, units_of) -> tuple[BucketUsage, ...]:
    by_group: dict[tuple, list[Row]] = {}
    history_by_group: dict[tuple, list[Row]] = {}
    for row in rows:
        by_group.setdefault(computations.group_key(row.properties, grouped_by), []).append(row)
    for row in history:
        history_by_group.setdefault(computations.group_key(row.properties, grouped_by), []).append(row)
    groups = []
    for key in sorted(set(by_group) | set(history_by_group), key=lambda k: tuple((v is None, v or "") for v in k)):
        group_rows = by_group.get(key, [])
        groups.append(
            _bucket(
                spec,
                group_rows,
                units_of(group_rows, history_by_group.get(key, [])),
                dict(zip(grouped_by, key, strict=True)),
            )
        )
    return tuple(groups)


def _filter_of_dimensions(
    charge_filters: list[tuple[Any, dict[str, list[str]]]], keys: Sequence[str], dims: tuple[str | None, ...]
) -> Any:
    """The filter bucket of events with these values of the metric's filter keys (None: default)."""
    props = {k: v for k, v in zip(keys, dims, strict=True) if v is not None}
    return computations.assign_filter(charge_filters, props) if charge_filters else None


def _aggregate_additive(
    reader: Any,
    spec: MetricSpec,
    charge_filters: list[tuple[Any, dict[str, list[str]]]],
    start: datetime,
    end: datetime,
    started: datetime,
    recurring: bool,
    *,
    grouped_by: Sequence[str] = (),
) -> AggregationResult:
    """count / sum / max from rollups (+ raw edges), per filter bucket (and group, `grouped_by`
    among the metric's filter keys: ClickHouse). Event values come from raw rows only when a sum
    has to give them (percentage pricing), which the caller gets via `event_values`."""
    keys = list(spec.filter_keys)
    window = reader.additive(start, end, keys)
    history = reader.additive(started, start, keys) if recurring else {}

    def bucket_of(dims: tuple[str | None, ...]) -> Any:
        return _filter_of_dimensions(charge_filters, keys, dims)

    group_of = _group_of(keys, grouped_by)
    group_totals: dict[tuple[Any, tuple], Additive] = {}
    group_hist: dict[tuple[Any, tuple], Additive] = {}
    for source, target_totals in ((window, group_totals), (history, group_hist)):
        for dims, acc in source.items() if grouped_by else ():
            dest = target_totals.setdefault((bucket_of(dims), group_of(dims)), Additive())
            dest.add(acc.count, acc.total, acc.maximum, acc.precise)

    def units(acc: Additive, hist: Additive | None) -> Decimal:
        if spec.aggregation_type == "count_agg":
            return Decimal(acc.count + (hist.count if hist else 0))
        if spec.aggregation_type == "sum_agg":
            return acc.total + (hist.total if hist else ZERO)
        return acc.maximum if acc.maximum is not None else ZERO

    totals: dict[Any, Additive] = {}
    hist_totals: dict[Any, Additive] = {}
    overall, overall_hist = Additive(), Additive()
    for dims, acc in window.items():
        target = totals.setdefault(bucket_of(dims), Additive())
        for dest in (target, overall):
            dest.add(acc.count, acc.total, acc.maximum, acc.precise)
    for dims, acc in history.items():
        target = hist_totals.setdefault(bucket_of(dims), Additive())
        for dest in (target, overall_hist):
            dest.add(acc.count, acc.total, acc.maximum, acc.precise)

    def usage(acc: Additive, hist: Additive | None, group: Mapping[str, str | None] | None = None) -> BucketUsage:
        values: tuple[Decimal, ...] = ()
        return BucketUsage(
            units=plain(apply_metric_rounding(units(acc, hist), spec.rounding_function, spec.rounding_precision)),
            events_count=acc.count,
            event_values=values,
            precise_total_amount_cents=plain(acc.precise),
            grouped_by=dict(group or {}),
        )

    def groups(fid: Any) -> tuple[BucketUsage, ...]:
        return tuple(
            usage(
                group_totals.get((fid, key), Additive()),
                group_hist.get((fid, key)) if recurring else None,
                dict(zip(grouped_by, key, strict=True)),
            )
            for key in _group_keys(fid, group_totals, group_hist)
        )

    return _by_dimensions(
        usage(overall, overall_hist if recurring else None),
        lambda fid: usage(totals.get(fid, Additive()), hist_totals.get(fid) if recurring else None),
        groups,
        charge_filters,
        grouped_by,
        reader.name,
    )


def _aggregate_unique(
    reader: Any,
    spec: MetricSpec,
    charge_filters: list[tuple[Any, dict[str, list[str]]]],
    grouped_by: Sequence[str],
    start: datetime,
    end: datetime,
    started: datetime,
    recurring: bool,
) -> AggregationResult | None:
    """A unique count per filter bucket and group from ClickHouse's unique-count states: each
    bucket counts the values whose last event among the bucket's events is not a `remove`, the
    buckets' events told apart by their values of the metric's filter keys. None: the states met
    dimension values the window's read did not (a concurrent write; the caller reads events)."""
    keys = list(spec.filter_keys)
    window = reader.additive(start, end, keys)
    spans = [(start, end)]
    history: dict[tuple[str | None, ...], Additive] = {}
    if recurring and start > started:
        history = reader.additive(started, start, keys)
        spans.append((started, start))
    group_of = _group_of(keys, grouped_by)

    def bucket_of(dims: tuple[str | None, ...]) -> Any:
        return _filter_of_dimensions(charge_filters, keys, dims)

    def labels(dims: tuple[str | None, ...]) -> list[Any]:
        bucket = bucket_of(dims)
        found: list[Any] = ["all"]
        if charge_filters:
            found.append(("filter", bucket))
        if grouped_by:
            found.append(("group", bucket, group_of(dims)))
        return found

    counts = reader.unique_counts(spans, spec.field_name or "", keys, labels)
    if counts is None:
        return None
    precise: dict[Any, Decimal] = {}
    seen: dict[tuple[Any, tuple], bool] = {}
    for source in (window, history):
        for dims, acc in source.items():
            for label in labels(dims):
                if source is window:
                    precise[label] = precise.get(label, ZERO) + acc.precise
                if label[0] == "group":
                    seen[label[1:]] = True

    def usage(label: Any, group: Mapping[str, str | None] | None = None) -> BucketUsage:
        units = Decimal(counts.get(label, 0))
        return BucketUsage(
            units=plain(apply_metric_rounding(units, spec.rounding_function, spec.rounding_precision)),
            events_count=events_count_of(spec, 0, units),
            precise_total_amount_cents=plain(precise.get(label, ZERO)),
            grouped_by=dict(group or {}),
        )

    def groups(fid: Any) -> tuple[BucketUsage, ...]:
        return tuple(
            usage(("group", fid, key), dict(zip(grouped_by, key, strict=True))) for key in _group_keys(fid, seen)
        )

    return _by_dimensions(
        usage("all"), lambda fid: usage(("filter", fid)), groups, charge_filters, grouped_by, reader.name
    )


def _by_dimensions(
    top: BucketUsage,
    bucket: Callable[[Any], BucketUsage],
    groups: Callable[[Any], tuple[BucketUsage, ...]],
    charge_filters: Sequence[tuple[Any, Mapping[str, Sequence[str]]]],
    grouped_by: Sequence[str],
    source: str,
) -> AggregationResult:
    """The result of a read by dimension values (`_aggregate_additive`, `_aggregate_unique`,
    `_aggregate_weighted`): the whole charge's bucket `top`; with charge filters, `bucket(fid)` and
    (when the charge groups) `groups(fid)` of each filter, then of the default bucket (`fid` None);
    without them, the charge's groups `groups(None)`."""
    filters: tuple[FilterUsage, ...] = ()
    if charge_filters:
        filters = tuple(
            FilterUsage(fid, values, bucket(fid), groups(fid) if grouped_by else ())
            for fid, values in [*charge_filters, (None, {})]
        )
    return AggregationResult(
        units=top.units,
        events_count=top.events_count,
        event_values=top.event_values,
        precise_total_amount_cents=top.precise_total_amount_cents,
        groups=groups(None) if grouped_by and not charge_filters else (),
        filters=filters,
        source=source,
        total_aggregated_units=top.total_aggregated_units,
    )


def _group_of(keys: Sequence[str], grouped_by: Sequence[str]) -> Callable[[tuple[str | None, ...]], tuple]:
    """A group's key (the values of `grouped_by`) from the values of the metric's filter `keys`."""
    positions = [list(keys).index(key) for key in grouped_by]
    return lambda dims: tuple(dims[i] for i in positions)


def _group_keys(fid: Any, *sources: Mapping[tuple[Any, tuple], Any]) -> list[tuple]:
    """The groups of filter bucket `fid` in `sources` (keyed by (bucket, group)), in the order of
    the raw path (`_groups`: values first, then the group without the key)."""
    found = {key for source in sources for bucket, key in source if bucket == fid}
    return sorted(found, key=lambda k: tuple((v is None, v or "") for v in k))


def _aggregate_weighted(
    reader: Any,
    spec: MetricSpec,
    charge_filters: list[tuple[Any, dict[str, list[str]]]],
    start: datetime,
    end: datetime,
    started: datetime,
    recurring: bool,
    period: Decimal,
    *,
    grouped_by: Sequence[str] = (),
) -> AggregationResult | None:
    """A weighted sum per filter bucket from Σ value and Σ value × Unix seconds per dimension values
    (hourly rollups + raw edges; `computations.weighted_sum_of_moments`), the carried level of a
    recurring metric from the sums before the window. None: the rollups of the window predate
    `value_time_sum` (the caller reads raw events)."""
    keys = list(spec.filter_keys)
    window = reader.moments(start, end, keys)
    if window is None:
        return None
    history = reader.additive(started, start, keys) if recurring and start > started else {}

    def bucket_of(dims: tuple[str | None, ...]) -> Any:
        return _filter_of_dimensions(charge_filters, keys, dims)

    totals: dict[Any, Additive] = {}
    carried: dict[Any, Decimal] = {}
    overall, overall_carried = Additive(), ZERO
    for dims, acc in window.items():
        target = totals.setdefault(bucket_of(dims), Additive())
        for dest in (target, overall):
            dest.add(acc.count, acc.total, acc.maximum, acc.precise, acc.moment)
    for dims, acc in history.items():
        bucket = bucket_of(dims)
        carried[bucket] = carried.get(bucket, ZERO) + acc.total
        overall_carried += acc.total
    group_of = _group_of(keys, grouped_by)
    group_totals: dict[tuple[Any, tuple], Additive] = {}
    group_carried: dict[tuple[Any, tuple], Decimal] = {}
    for dims, acc in window.items() if grouped_by else ():
        group_key = (bucket_of(dims), group_of(dims))
        group_totals.setdefault(group_key, Additive()).add(acc.count, acc.total, acc.maximum, acc.precise, acc.moment)
    for dims, acc in history.items() if grouped_by else ():
        group_key = (bucket_of(dims), group_of(dims))
        group_carried[group_key] = group_carried.get(group_key, ZERO) + acc.total

    def usage(acc: Additive, initial: Decimal, group: Mapping[str, str | None] | None = None) -> BucketUsage:
        units = computations.weighted_sum_of_moments(acc.total, acc.moment, start, end, initial, period)
        return BucketUsage(
            units=plain(apply_metric_rounding(units, spec.rounding_function, spec.rounding_precision)),
            events_count=acc.count,
            precise_total_amount_cents=plain(acc.precise),
            grouped_by=dict(group or {}),
            total_aggregated_units=plain(initial + acc.total),
        )

    def groups(fid: Any) -> tuple[BucketUsage, ...]:
        return tuple(
            usage(
                group_totals.get((fid, key), Additive()),
                group_carried.get((fid, key), ZERO),
                dict(zip(grouped_by, key, strict=True)),
            )
            for key in _group_keys(fid, group_totals, group_carried)
        )

    return _by_dimensions(
        usage(overall, overall_carried),
        lambda fid: usage(totals.get(fid, Additive()), carried.get(fid, ZERO)),
        groups,
        charge_filters,
        grouped_by,
        reader.name,
    )


# --- prorated charges (docs/billing-semantics.md §5.4, §2.9) ----------------------------------------------------

PRORATED_TYPES = {"sum_agg", "unique_count_agg"}


def aggregate_prorated(
    organization: Organization,
    *,
    external_subscription_id: str,
    metric: Any,
    from_datetime: datetime,
    to_datetime: datetime,
    period_days: int,
    tz_name: str,
    filters: Iterable[Any] | None = None,
    grouped_by: Sequence[str] = (),
    subscription_started_at: datetime | None = None,
    store: str | None = None,
    carried_days: int | None = None,
) -> AggregationResult:
    """Usage of a prorated charge over `[from_datetime, to_datetime)`: each unit weighted by the share
    of the full charges period (`period_days` local days in `tz_name`) it existed (`metering.prorated`).
    `carried_days`: the days the value carried from earlier periods counts, when not the window's
    (a window closed by a plan change leaves out its last day).

    Only recurring `sum_agg` and `unique_count_agg` metrics are prorated (Lago refuses the flag
    elsewhere); any other metric is aggregated as usual. Every bucket (filter, group) carries
    `units` = prorated units (ceil 5 places), `full_units` = the unprorated units, and the per-event
    full and prorated values the prorated graduated model walks.
    """
    spec = metric_spec(metric)
    if not (spec.recurring and spec.aggregation_type in PRORATED_TYPES):
        return aggregate(
            organization,
            external_subscription_id=external_subscription_id,
            metric=spec,
            from_datetime=from_datetime,
            to_datetime=to_datetime,
            filters=filters,
            grouped_by=grouped_by,
            subscription_started_at=subscription_started_at,
            store=store,
        )
    charge_filters = normalize_filters(filters)
    grouped_by = tuple(grouped_by or ())
    started = subscription_started_at or EPOCH
    start = max(from_datetime, started)
    end = to_datetime
    days = prorated_math.ProrationDays.of(
        start, max(end, start), period_days=period_days, tz_name=tz_name, carried_days=carried_days
    )
    reader = reader_for(organization, external_subscription_id, spec.code, store, reads_from=started)
    filter_keys = sorted({key for _, values in charge_filters for key in values})
    keys = sorted(set(filter_keys) | set(grouped_by) | _value_keys(spec))

    def read(source: Any) -> tuple[list[Row], list[Row]]:
        return (
            source.rows(start, end, keys) if start < end else [],
            source.rows(started, start, keys) if start > started else [],
        )

    (rows, history), reader = _read_or_fall_back(read, reader, organization, external_subscription_id, spec.code, store)

    def bucket(bucket_rows: Sequence[Row], bucket_history: Sequence[Row], group: Mapping | None = None) -> BucketUsage:
        if spec.aggregation_type == "sum_agg":
            values = prorated_math.prorated_sum(bucket_history, bucket_rows, days, tz_name=tz_name)
        else:
            values = prorated_math.prorated_unique_count(
                bucket_history, bucket_rows, days, field_name=spec.field_name or "", tz_name=tz_name
            )
        return BucketUsage(
            units=values.units,
            # A prorated unique count counts its distinct values present, unprorated.
            events_count=events_count_of(spec, len(bucket_rows), values.full_units),
            event_values=values.event_values,
            precise_total_amount_cents=plain(sum((r.precise_total_amount_cents or ZERO for r in bucket_rows), ZERO)),
            grouped_by=dict(group or {}),
            full_units=values.full_units,
            event_prorated_values=values.event_prorated_values,
        )

    def groups_of(bucket_rows: Sequence[Row], bucket_history: Sequence[Row]) -> tuple[BucketUsage, ...]:
        by_group: dict[tuple, list[Row]] = {}
        history_by_group: dict[tuple, list[Row]] = {}
        for row in bucket_rows:
            by_group.setdefault(computations.group_key(row.properties, grouped_by), []).append(row)
        for row in bucket_history:
            history_by_group.setdefault(computations.group_key(row.properties, grouped_by), []).append(row)
        ordered = sorted(set(by_group) | set(history_by_group), key=lambda k: tuple((v is None, v or "") for v in k))
        return tuple(
            bucket(by_group.get(key, []), history_by_group.get(key, []), dict(zip(grouped_by, key, strict=True)))
            for key in ordered
        )

    overall = bucket(rows, history)
    groups: tuple[BucketUsage, ...] = ()
    filter_results: tuple[FilterUsage, ...] = ()
    if grouped_by and not charge_filters:
        groups = groups_of(rows, history)
    if charge_filters:
        filter_results = _filter_buckets(rows, history, charge_filters, bucket, groups_of if grouped_by else None)
    return _window(
        overall,
        groups,
        filter_results,
        reader.name,
        full_units=overall.full_units,
        event_prorated_values=overall.event_prorated_values,
    )
