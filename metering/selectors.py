"""Reads of the metering app. Every selector takes the organization first."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform

from billing_project.core.found import found
from billing_project.core.narrowing import narrowed
from catalog.models import BillableMetric
from customers.models import Organization
from metering import computations
from metering.clickhouse import record
from metering.clickhouse.record import in_clickhouse
from metering.models import Event, EventError
from metering.store.base import EventListFilters


@dataclass(frozen=True)
class MetricInfo:
    """What ingestion needs to know about a metric code."""

    id: Any
    code: str
    aggregation_type: str
    field_name: str | None
    expression: str | None
    filter_keys: tuple[str, ...]


def metrics_by_code(organization: Organization, codes: Collection[str]) -> dict[str, MetricInfo]:
    """The live metrics among `codes` with their live filter keys (one query)."""
    if not codes:
        return {}
    rows = BillableMetric.live.filter(organization=organization, code__in=set(codes)).values_list(
        "id", "code", "aggregation_type", "field_name", "expression", "filters__key", "filters__deleted_at"
    )
    metrics: dict[str, MetricInfo] = {}
    keys: dict[str, set[str]] = {}
    for metric_id, code, aggregation_type, field_name, expression, key, key_deleted_at in rows:
        if code not in metrics:
            metrics[code] = MetricInfo(metric_id, code, aggregation_type, field_name or None, expression or None, ())
            keys[code] = set()
        if key is not None and key_deleted_at is None:
            keys[code].add(key)
    return {
        code: MetricInfo(m.id, m.code, m.aggregation_type, m.field_name, m.expression, tuple(sorted(keys[code])))
        for code, m in metrics.items()
    }


def event_get(organization: Organization, transaction_id: str, *, external_subscription_id: str | None = None) -> Any:
    """The newest event with this transaction id: an `Event`, or a `StoredEvent` read from
    ClickHouse for an organization whose store of record it is."""
    if in_clickhouse(organization):
        stored = record.event_get(organization, transaction_id, external_subscription_id=external_subscription_id)
        return found(stored, "event")
    qs = Event.objects.filter(organization=organization, transaction_id=transaction_id)
    return found(
        narrowed(qs, external_subscription_id=external_subscription_id).order_by("-created_at").first(), "event"
    )


def event_list(organization: Organization, filters: EventListFilters) -> QuerySet[Event]:
    qs = narrowed(
        Event.objects.filter(organization=organization),
        code=filters.code,
        external_subscription_id=filters.external_subscription_id,
        timestamp__gte=filters.timestamp_from,
        timestamp__lte=filters.timestamp_to,
    )
    return qs.order_by("-timestamp", "id")


EVENTS_LIST_COUNT_LIMIT = 10_000  # the default of the setting of the same name


def events_list_count_limit() -> int:
    return max(1, int(getattr(settings, "EVENTS_LIST_COUNT_LIMIT", EVENTS_LIST_COUNT_LIMIT) or EVENTS_LIST_COUNT_LIMIT))


@dataclass(frozen=True)
class EventPage:
    """One page of `event_list` and what is known about the whole list without a full count."""

    events: list[Any]  # `Event`s, or `StoredEvent`s from ClickHouse
    page: int
    per_page: int
    has_next: bool
    total_count: int
    total_count_exact: bool


def event_list_page(organization: Organization, filters: EventListFilters, *, page: int, per_page: int) -> EventPage:
    """A page of the event list, newest first, without counting a table of millions of rows.

    The page is read with one row more than asked (so `next_page` is always exact). The total is
    exact without a count on the last page; otherwise it is counted up to `EVENTS_LIST_COUNT_LIMIT`
    matching rows (default 10,000: a bounded index scan), and beyond that limit the total is the
    number of rows known to exist (`total_count_exact` false), never a full `COUNT(*)`."""
    if in_clickhouse(organization):
        return _page(
            lambda offset, limit: record.event_list_slice(organization, filters, offset=offset, limit=limit),
            lambda up_to: record.event_list_count(organization, filters, up_to=up_to),
            page=page,
            per_page=per_page,
        )
    qs = event_list(organization, filters)
    return _page(
        lambda offset, limit: list(qs[offset : offset + limit]),
        lambda up_to: qs.order_by()[:up_to].count(),
        page=page,
        per_page=per_page,
    )


def _page(
    fetch: Callable[[int, int], list[Any]], count: Callable[[int], int], *, page: int, per_page: int
) -> EventPage:
    """A page from `fetch(offset, limit)`, one row more than asked, and `count(up_to)` only when
    the total is not known without it."""
    offset = (page - 1) * per_page
    rows = fetch(offset, per_page + 1)
    has_next = len(rows) > per_page
    rows = rows[:per_page]
    if not has_next and (rows or offset == 0):
        return EventPage(rows, page, per_page, False, offset + len(rows), True)
    limit = events_list_count_limit()
    counted = count(limit + 1)
    if counted <= limit:
        return EventPage(rows, page, per_page, has_next, counted, True)
    known = max(limit + 1, offset + len(rows) + (1 if has_next else 0))
    return EventPage(rows, page, per_page, has_next, known, False)


def event_errors_of(organization: Organization, event: Any) -> list[EventError]:
    """The problems recorded on one event (an `Event` or a `StoredEvent`), oldest first."""
    return list(EventError.objects.filter(organization=organization, event_id=event.id).order_by("created_at", "id"))


def event_error_list(
    organization: Organization,
    *,
    error_code: str | None = None,
    external_subscription_id: str | None = None,
    code: str | None = None,
) -> QuerySet[EventError]:
    qs = EventError.objects.filter(organization=organization).select_related("event")
    qs = narrowed(qs, error_code=error_code, external_subscription_id=external_subscription_id, code=code)
    return qs.order_by("-created_at", "id")


def event_rows(
    organization_id: Any,
    *,
    external_subscription_id: str,
    code: str,
    start: datetime,
    end: datetime,
    keys: Collection[str] = (),
    include_end: bool = False,
) -> list[tuple[Any, computations.Row]]:
    """The events of one subscription and metric in `[start, end)` (`[start, end]` with
    `include_end`), in billing order (timestamp, transaction id), as `(event id, Row)`: the value
    and the `keys` of their properties as text, as the period-end aggregation reads them
    (`metering.running` feeds on them)."""
    keys = tuple(keys)
    annotations = {f"_k{i}": KeyTextTransform(key, "properties") for i, key in enumerate(keys)}
    end_lookup = "timestamp__lte" if include_end else "timestamp__lt"
    rows = (
        Event.objects.filter(
            organization_id=organization_id,
            external_subscription_id=external_subscription_id,
            code=code,
            timestamp__gte=start,
            **{end_lookup: end},
        )
        .annotate(**annotations)
        .order_by("timestamp", "transaction_id")
        .values_list("id", "transaction_id", "value", "timestamp", *annotations)
    )
    return [
        (
            event_id,
            computations.Row(
                timestamp=timestamp,
                value=value,
                properties={key: computations.text_of(v) for key, v in zip(keys, values, strict=True)}
                if keys
                else None,
                transaction_id=transaction_id,
            ),
        )
        for event_id, transaction_id, value, timestamp, *values in rows
    ]
