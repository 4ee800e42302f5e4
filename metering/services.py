"""Writes of the metering app: event ingestion and rollup maintenance."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction

from billing_project.core import metrics as prometheus
from billing_project.core.errors import ValidationFailure
from billing_project.core.narrowing import narrowed
from customers.models import Organization
from metering import ingestion
from metering.clickhouse.record import ClickHouseRecordStore, in_clickhouse
from metering.ingestion import ParsedEvent
from metering.models import ClickHouseOutbox, EventError, EventErrorCode
from metering.selectors import MetricInfo, metrics_by_code
from metering.signals import events_ingested
from metering.store import EventStore, event_store, rollup_deltas
from subscriptions import selectors as subscription_selectors

logger = logging.getLogger(__name__)

VALUE_AGGREGATIONS = {"sum_agg", "max_agg", "latest_agg", "weighted_sum_agg"}
_MAX_INT_VALUE = 10**26


def batch_max_length() -> int:
    return int(getattr(settings, "EVENTS_BATCH_MAX_LENGTH", 1000))


@dataclass
class IngestResult:
    """What a request stored: `events` are new, `duplicates` were already stored (or repeated)."""

    events: list[ParsedEvent] = field(default_factory=list)
    duplicates: list[ParsedEvent] = field(default_factory=list)
    # external subscription id -> (subscription id, customer id) as text, for rendering
    subscription_ids: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Whether the organization has live pay-in-advance charges, when the insert statement answered
    # it (PostgreSQL's single-event and batch statements); None: not asked.
    pay_in_advance_charges: bool | None = None

    @property
    def accepted(self) -> list[ParsedEvent]:
        return sorted(self.events + self.duplicates, key=lambda e: e.index)


def _evaluate_expression(expression: str, event: ParsedEvent) -> Any:
    from catalog import expressions  # written by the catalog team; a pure module

    return expressions.evaluate(
        expression, {"code": event.code, "timestamp": event.timestamp, "properties": event.properties}
    )


def enrich(event: ParsedEvent, metric: MetricInfo | None) -> None:
    """Compute the event's aggregation value and dimensions from its metric; note problems."""
    if metric is None:
        event.errors.append(EventErrorCode.INVALID_CODE)
        return
    event.metric_known = True
    for key in metric.filter_keys:
        value = ingestion.dimension_value(event.properties.get(key))
        if value is not None:
            event.dimensions[key] = value
    if metric.expression and metric.field_name:
        try:
            result = ingestion.parse_decimal_value(_evaluate_expression(metric.expression, event))
        except Exception:  # noqa: BLE001 - any failure of a user expression is reported, not raised
            result = None
        if result is None:
            event.errors.append(EventErrorCode.EXPRESSION_FAILED)
        else:
            # A copy first: the fast validation path keeps the caller's properties object.
            event.properties = {**event.properties, metric.field_name: result}
    if metric.aggregation_type not in VALUE_AGGREGATIONS and metric.aggregation_type != "unique_count_agg":
        return
    if not metric.field_name:
        return
    raw = event.properties.get(metric.field_name)
    if raw is None or raw == "":
        if EventErrorCode.EXPRESSION_FAILED not in event.errors:
            event.errors.append(EventErrorCode.MISSING_AGGREGATION_PROPERTY)
        return
    if metric.aggregation_type == "unique_count_agg":
        event.unique_field = metric.field_name
        return
    if type(raw) is int and -_MAX_INT_VALUE < raw < _MAX_INT_VALUE:
        event.value = Decimal(raw)  # the common case: an integer that fits numeric(38, 12)
        return
    number = ingestion.parse_decimal_value(raw)
    if number is None or not ingestion.storable(number):
        event.errors.append(EventErrorCode.INVALID_AGGREGATION_PROPERTY)
        return
    event.value = number


def _validate(payloads: Sequence[Any], *, single: bool) -> list[ParsedEvent]:
    now = ingestion.now_utc()
    parsed: list[ParsedEvent] = []
    errors: dict[str, Any] = {}
    for index, raw in enumerate(payloads):
        event, event_errors = ingestion.parse_event(index, raw, now)
        if event_errors:
            errors[str(index)] = event_errors
        elif event is not None:
            event.created_at = now
            parsed.append(event)
    if errors:
        raise ValidationFailure(errors["0"] if single else errors)
    return parsed


def events_ingest(
    organization: Organization, payloads: Sequence[Any], *, single: bool = False, cached_lookups: bool = False
) -> IngestResult:
    """Validate and store events (one request's worth) exactly once each.

    Any invalid event rejects the whole request (422, errors by index for a batch) and nothing is
    stored. Events whose idempotency key (external_subscription_id, transaction_id) is already
    stored, or repeated within the request, are not stored again and come back as `duplicates`;
    for a single event that is Lago's 422 `transaction_id: value_already_exist`.
    Unknown codes, unknown subscriptions and missing values are stored and reported.
    `cached_lookups=True` reads metrics and subscriptions through `metering.lookups` (a few
    seconds of per-process cache; the single-event endpoint uses it).
    """
    if not single:
        if not payloads:
            raise ValidationFailure.single("events", "no_events")
        if len(payloads) > batch_max_length():
            raise ValidationFailure.single("events", "too_many_events")
    parsed = _validate(payloads, single=single)

    result = IngestResult()
    seen: set[tuple[str, str]] = set()
    unique: list[ParsedEvent] = []
    for event in parsed:
        key = event.key
        if key in seen:
            result.duplicates.append(event)
        else:
            seen.add(key)
            unique.append(event)

    if cached_lookups:
        from metering.lookups import metrics_by_code_cached, subscriptions_cached

        metrics = metrics_by_code_cached(organization, {e.code for e in unique})
        refs = subscriptions_cached(organization, {e.external_subscription_id for e in unique})
    else:
        metrics = metrics_by_code(organization, {e.code for e in unique})
        refs = subscription_selectors.subscription_refs(organization, {e.external_subscription_id for e in unique})
    result.subscription_ids = {key: (str(ref.id), str(ref.customer_id)) for key, ref in refs.items()}
    for event in unique:
        enrich(event, metrics.get(event.code))
        ref = refs.get(event.external_subscription_id)
        if ref is not None:
            event.subscription_id = ref.id
            event.customer_id = ref.customer_id
        else:
            event.errors.append(EventErrorCode.UNKNOWN_SUBSCRIPTION)

    now = parsed[0].created_at if parsed else ingestion.now_utc()
    assert now is not None
    durable = bool(getattr(settings, "EVENTS_SYNCHRONOUS_COMMIT", True))
    if in_clickhouse(organization):
        # ClickHouse is the store of record: keys claimed in PostgreSQL, events written to
        # ClickHouse, in one transaction (metering.clickhouse.record).
        with transaction.atomic():
            _store(ClickHouseRecordStore(), organization, unique, result, now, single=single)
        return _ingested(organization, result)
    store = event_store()
    # The common case on PostgreSQL is one atomic statement (events + rollups), no explicit
    # transaction; in the opt-in asynchronous mode that statement itself turns synchronous_commit
    # off for its own commit (only in autocommit: inside a caller's transaction the setting would
    # outlive the statement).
    simple = store.one_statement and not clickhouse_enabled() and not any(e.errors for e in unique)
    if simple and (durable or not connection.in_atomic_block):
        _store(store, organization, unique, result, now, single=single, durable=durable)
    else:
        with transaction.atomic():
            if not durable:
                store.relax_commit()
            _store(store, organization, unique, result, now, single=single)
    return _ingested(organization, result)


def _ingested(organization: Organization, result: IngestResult) -> IngestResult:
    """Count what a request stored and tell the apps above (`events_ingested`)."""
    if len(result.duplicates) > 1:
        result.duplicates.sort(key=lambda e: e.index)
    if len(result.events) > 1:
        result.events.sort(key=lambda e: e.index)
    if result.events:  # a counter that does not move is not touched (each `inc` takes a lock)
        prometheus.events_ingested.inc(len(result.events))
    if result.duplicates:
        prometheus.events_duplicate.inc(len(result.duplicates))
    touched = frozenset(e.external_subscription_id for e in result.events if e.subscription_id is not None)
    if touched:
        events_ingested.send(
            sender=Organization,
            organization=organization,
            external_subscription_ids=touched,
            pay_in_advance_charges=result.pay_in_advance_charges,
        )
    return result


def _store(
    store: EventStore,
    organization: Organization,
    unique: list[ParsedEvent],
    result: IngestResult,
    now: datetime,
    *,
    single: bool,
    durable: bool = True,
) -> None:
    written = store.write(organization.id, unique, now=now, refs=result.subscription_ids, durable=durable)
    result.pay_in_advance_charges = written.pay_in_advance_charges
    for event in unique:  # the store leaves the id of the events it did not insert unset
        (result.events if event.id is not None else result.duplicates).append(event)
    if single and result.duplicates:
        prometheus.events_duplicate.inc()
        raise ValidationFailure.single("transaction_id", "value_already_exist")
    if result.events and clickhouse_enabled() and not in_clickhouse(organization):
        # In the same transaction as the events: a crash cannot lose the ClickHouse copy.
        ClickHouseOutbox.objects.create(organization=organization, event_ids=[str(e.id) for e in result.events])
        transaction.on_commit(_flush_clickhouse_later)
    failed = [e for e in result.events if e.errors]
    if failed:
        EventError.objects.bulk_create(
            [_event_error(organization.id, e.id, e, code) for e in failed for code in dict.fromkeys(e.errors)],
            ignore_conflicts=True,
        )
        _report_errors(organization, failed)


def clickhouse_enabled() -> bool:
    return bool(getattr(settings, "CLICKHOUSE_URL", ""))


def _flush_clickhouse_later() -> None:
    from metering import tasks

    try:
        tasks.clickhouse_flush_task.delay()
    except Exception:
        # Eager mode with ClickHouse down, or no broker: the beat sweeper replays the outbox.
        logger.warning("ClickHouse flush deferred to the sweeper", exc_info=True)


def clickhouse_events_requeue(
    organization: Organization,
    *,
    from_datetime: datetime | None = None,
    to_datetime: datetime | None = None,
    code: str | None = None,
    external_subscription_id: str | None = None,
) -> int:
    """Queue stored events (dated in [from, to)) for ClickHouse again, 1,000 per outbox row, in
    the caller's transaction; returns how many were queued.

    The copy replaces the one ClickHouse holds (a newer version of the same idempotency key), so
    values and dimensions recomputed by a rollup rebuild reach it; until the outbox is flushed the
    organization reads PostgreSQL. This is not the backfill that lets aggregation read ClickHouse
    (`manage.py clickhouse_backfill`, docs/metering.md).
    """
    from metering.models import Event

    events = narrowed(
        Event.objects.filter(organization=organization),
        timestamp__gte=from_datetime,
        timestamp__lt=to_datetime,
        code=code,
        external_subscription_id=external_subscription_id,
    )
    queued = 0
    chunk: list[str] = []
    for event_id in events.values_list("id", flat=True).iterator(chunk_size=10_000):
        chunk.append(str(event_id))
        if len(chunk) == 1000:
            ClickHouseOutbox.objects.create(organization=organization, event_ids=chunk)
            queued, chunk = queued + len(chunk), []
    if chunk:
        ClickHouseOutbox.objects.create(organization=organization, event_ids=chunk)
        queued += len(chunk)
    if queued:
        transaction.on_commit(_flush_clickhouse_later)
    return queued


def errors_payload(events: Sequence[ParsedEvent]) -> dict[str, list[str]]:
    """The `events_errors` object of the `events.errors` webhook: error code -> transaction ids."""
    payload: dict[str, list[str]] = {}
    for event in events:
        for code in dict.fromkeys(event.errors):
            payload.setdefault(str(code), []).append(event.transaction_id)
    return payload


def _report_errors(organization: Organization, events: Sequence[ParsedEvent]) -> None:
    """Queue the `events.errors` webhook in the ingestion transaction (webhooks' outbox)."""
    from webhooks.services import webhook_send

    try:
        with transaction.atomic():  # a savepoint: a reporting failure never loses the events
            webhook_send(
                organization,
                webhook_type="events.errors",
                object_type="events_errors",
                payload=lambda: errors_payload(events),
            )
    except Exception:
        logger.exception("events.errors webhook could not be queued")


def _event_error(
    organization_id: UUID | str, event_id: Any, event: ParsedEvent | EventFailure, error_code: str, message: str = ""
) -> EventError:
    """The row of one problem (`error_code`, `message`) of a stored event."""
    return EventError(
        organization_id=organization_id,
        event_id=event_id,
        error_code=error_code,
        transaction_id=event.transaction_id,
        external_subscription_id=event.external_subscription_id,
        code=event.code,
        message=message,
    )


# --- failures found after ingestion ----------------------------------------------------------


@dataclass(frozen=True)
class EventFailure:
    """Why a stored event could not be billed by a later step (an instant in-advance fee)."""

    event_id: Any
    transaction_id: str
    external_subscription_id: str
    code: str
    message: str


def event_failures_record(organization_id: UUID | str, failures: Sequence[EventFailure], *, error_code: str) -> None:
    """Record each failure on its event (`EventError`, listed by `GET /event_errors`, shown by
    `GET /events/{transaction_id}` and the admin). One row per event and code: a later failure of
    the same kind replaces the message."""
    if not failures:
        return
    EventError.objects.bulk_create(
        [_event_error(organization_id, f.event_id, f, error_code, f.message[:2000]) for f in failures],
        update_conflicts=True,
        unique_fields=["event", "error_code"],
        update_fields=["message", "updated_at"],
    )


def event_failures_clear(organization_id: UUID | str, event_ids: Sequence[Any], *, error_code: str) -> int:
    """The failures of `error_code` on these events are resolved (the step succeeded since)."""
    if not event_ids:
        return 0
    deleted, _ = EventError.objects.filter(
        organization_id=organization_id, event_id__in=list(event_ids), error_code=error_code
    ).delete()
    return deleted


# --- rollups ----------------------------------------------------------------------------------


def usage_rollups_rebuild(
    organization: Organization,
    *,
    from_datetime: datetime,
    to_datetime: datetime,
    code: str | None = None,
    external_subscription_id: str | None = None,
) -> dict[str, int]:
    """Recompute event values and the hourly rollups of whole hours in [from, to) from raw events.

    Uses the metrics as they are now, so it also repairs rollups after a metric was created for
    codes that already had events, or after its field name or filter keys changed. With ClickHouse
    configured, the rebuilt events are queued for it again (in the same transaction).
    """
    from metering.models import Event, UsageRollup

    start = ingestion.truncate_hour(from_datetime)
    end = ingestion.truncate_hour(to_datetime)
    if end < to_datetime:
        end = end + timedelta(hours=1)
    stats = {"events": 0, "values_updated": 0, "rollups": 0}
    with transaction.atomic():
        store = event_store()
        store.lock_rollups(organization.id, exclusive=True)
        events = Event.objects.filter(organization=organization, timestamp__gte=start, timestamp__lt=end)
        rollups = UsageRollup.objects.filter(organization=organization, hour__gte=start, hour__lt=end)
        if code:
            events, rollups = events.filter(code=code), rollups.filter(code=code)
        if external_subscription_id:
            events = events.filter(external_subscription_id=external_subscription_id)
            rollups = rollups.filter(external_subscription_id=external_subscription_id)
        codes = set(events.values_list("code", flat=True).distinct())
        metrics = metrics_by_code(organization, codes)
        rollups.delete()
        parsed: list[ParsedEvent] = []
        changed: list[Event] = []
        for row in events.only(
            "id",
            "code",
            "external_subscription_id",
            "transaction_id",
            "timestamp",
            "properties",
            "value",
            "precise_total_amount_cents",
        ).iterator(chunk_size=5000):
            event = ParsedEvent(
                index=0,
                transaction_id=row.transaction_id,
                external_subscription_id=row.external_subscription_id,
                external_customer_id="",
                code=row.code,
                timestamp=row.timestamp,
                properties=dict(row.properties or {}),
                precise_total_amount_cents=row.precise_total_amount_cents,
                id=row.id,
            )
            metric = metrics.get(row.code)
            if metric is not None and metric.expression:
                # Keep the value computed at ingestion; the expression result is already in properties.
                metric = MetricInfo(
                    metric.id, metric.code, metric.aggregation_type, metric.field_name, None, metric.filter_keys
                )
            enrich(event, metric)
            stats["events"] += 1
            if event.value != row.value:
                row.value = event.value
                changed.append(row)
            parsed.append(event)
        if changed:
            Event.objects.bulk_update(changed, ["value"], batch_size=1000)
        stats["values_updated"] = len(changed)
        deltas = rollup_deltas(parsed)
        store.add_rollups(organization.id, deltas, ingestion.now_utc())
        stats["rollups"] = len(deltas)
        # Unique counts' links span periods: their codes are rebuilt whole (docs/metering.md).
        fields = {
            c: (m.field_name if m is not None and m.aggregation_type == "unique_count_agg" else None)
            for c in codes
            for m in [metrics.get(c)]
        }
        links = store.unique_state_rebuild(organization.id, fields, external_subscription_id)
        if any(fields.values()):
            stats["unique_links"] = links
        if clickhouse_enabled() and stats["events"]:
            # ClickHouse's copies carry the values and dimensions of their time: copy them again.
            clickhouse_events_requeue(
                organization,
                from_datetime=start,
                to_datetime=end,
                code=code,
                external_subscription_id=external_subscription_id,
            )
    return stats


def organizations_with_events(from_datetime: datetime, to_datetime: datetime) -> list[Organization]:
    from metering.models import Event

    ids = (
        Event.objects.filter(timestamp__gte=from_datetime, timestamp__lt=to_datetime)
        .values("organization_id")
        .distinct()
    )
    return list(Organization.objects.filter(id__in=ids).order_by("id"))


def usage_rollups_daily(day: datetime) -> int:
    """The daily job: fan out one rebuild task per organization with events on `day` (UTC)."""
    from metering import tasks

    start = ingestion.truncate_hour(day).replace(hour=0)
    end = start + timedelta(days=1)
    organizations = organizations_with_events(start, end)
    for organization in organizations:
        tasks.usage_rollups_rebuild_task.delay(str(organization.id), start.isoformat(), end.isoformat())
    return len(organizations)
