"""The event store's interface, and what its implementations share.

`EventStore` is what every store does: write validated events (`metering.ingestion.ParsedEvent`)
and read them back for aggregation (`EventReader`). `DatabaseEventStore` adds what only the Django
database does: it is the source of truth, keeps the hourly rollups and orders ingestion against
rollup rebuilds with a lock. PostgreSQL and SQLite are `DatabaseEventStore`s; ClickHouse is an
`EventStore` that holds a copy. `metering.store.event_store()` picks one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from metering.computations import EXACT, ZERO, Row, unix_seconds
from metering.ingestion import ParsedEvent, dimensions_key, truncate_hour

if TYPE_CHECKING:
    from customers.models import Organization

# external subscription id -> (subscription id, customer id), as text
SubscriptionRefs = Mapping[str, tuple[str, str]]
# (external subscription id, code, UTC hour, dimensions key)
RollupKey = tuple[str, str, datetime, str]
# what events add to their hourly rollups: key -> (dimensions, delta)
Deltas = Mapping[RollupKey, tuple[dict, "RollupDelta"]]


@dataclass(frozen=True)
class Written:
    """What a write answered besides the events' ids.

    `pay_in_advance_charges`: whether the organization has live pay-in-advance charges, when the
    store answered it in the same round trip (PostgreSQL's one-event and batch statements); None: not asked,
    or nothing was stored."""

    pay_in_advance_charges: bool | None = None


@dataclass(frozen=True)
class EventListFilters:
    """What the event list (`GET /events`) is narrowed to, each part only when given (both
    timestamps inclusive): read from PostgreSQL by `metering.selectors.event_list`, from ClickHouse
    by `metering.clickhouse.record.event_list_slice` / `event_list_count`."""

    code: str | None = None
    external_subscription_id: str | None = None
    timestamp_from: datetime | None = None
    timestamp_to: datetime | None = None


@dataclass
class Additive:
    """count / sum / max / precise sum of some events (or rollups)."""

    count: int = 0
    total: Decimal = ZERO
    maximum: Decimal | None = None
    precise: Decimal = ZERO
    moment: Decimal = ZERO  # Σ value × Unix seconds (weighted sums; `EventReader.moments`)

    def add(
        self,
        count: int,
        total: Decimal | None,
        maximum: Decimal | None,
        precise: Decimal | None = None,
        moment: Decimal | None = None,
    ) -> None:
        self.count += count
        self.total += total or ZERO
        self.precise += precise or ZERO
        if moment:
            self.moment = EXACT.add(self.moment, moment)
        if maximum is not None and (self.maximum is None or maximum > self.maximum):
            self.maximum = maximum


class EventReader(Protocol):
    """Aggregation's view of one (organization, external subscription id, code) in a store.

    `name` is the `AggregationResult.source` of answers read here ("rollups" for the database,
    "clickhouse"); `sql_aggregations` are the aggregation types (beyond count/sum/max) the store
    computes itself, without filters or grouping (`metering.aggregation`)."""

    name: str
    sql_aggregations: frozenset[str]
    # Types answered from incremental state, charge filters included (`metering.aggregation`).
    state_aggregations: frozenset[str]

    def rows(self, start: datetime, end: datetime, keys: Sequence[str]) -> list[Row]:
        """Events dated in [start, end) with only the property `keys` (as text)."""
        ...

    def additive(self, start: datetime, end: datetime, keys: Sequence[str]) -> dict[tuple[str | None, ...], Additive]:
        """count / sum / max / precise sum over [start, end) per values of the dimension `keys`."""
        ...

    def moments(
        self, start: datetime, end: datetime, keys: Sequence[str]
    ) -> dict[tuple[str | None, ...], Additive] | None:
        """`additive` with `moment` (Σ value × Unix seconds) filled: what a weighted sum needs
        (readers with "weighted_sum_agg" in `state_aggregations`). None: not known for this window
        (rollups written before the column existed), read the raw events."""
        ...


class EventStore(ABC):
    """Where events are written and read. `write` is the one entry point of every store; a store
    implements `_write`, which `write` calls with at least one event."""

    name: str

    def write(
        self,
        organization_id: UUID,
        events: Sequence[ParsedEvent],
        *,
        now: datetime,
        refs: SubscriptionRefs | None = None,
        durable: bool = True,
    ) -> Written:
        """Store events unless their idempotency key (external subscription id, transaction id) is
        stored already: sets `id` on the events stored, None on the others. `refs` gives the text
        form of subscription and customer ids (default: from the events). `durable=False`: the
        commit need not wait for the disk (EVENTS_SYNCHRONOUS_COMMIT=false)."""
        if not events:
            return Written()
        return self._write(organization_id, events, now, default_refs(events) if refs is None else refs, durable)

    @abstractmethod
    def _write(
        self, organization_id: UUID, events: Sequence[ParsedEvent], now: datetime, refs: SubscriptionRefs, durable: bool
    ) -> Written:
        """`write` of one event or more, `refs` filled."""

    @abstractmethod
    def reader(self, organization: Organization, external_subscription_id: str, code: str) -> EventReader: ...


class DatabaseEventStore(EventStore):
    """The Django database: the source of truth, with the hourly rollups (`UsageRollup`)."""

    # True: `write` is one atomic statement (events and their rollups), so a request that writes
    # nothing else needs no explicit transaction.
    one_statement: bool

    @abstractmethod
    def relax_commit(self) -> None:
        """Inside a transaction: its commit need not wait for the disk (opt-in, see `write`)."""

    @abstractmethod
    def lock_rollups(self, organization_id: UUID | str, *, exclusive: bool) -> None:
        """Order ingestion (shared) against rollup rebuilds (exclusive) of one organization, until
        the end of the transaction."""

    def add_rollups(self, organization_id: UUID | str, deltas: Deltas, now: datetime) -> None:
        """Add deltas to the hourly rollups (insert or increment), in key order (no deadlocks)."""
        if deltas:
            self._add_rollups(organization_id, deltas, sorted(deltas), now)

    @abstractmethod
    def _add_rollups(self, organization_id: UUID | str, deltas: Deltas, keys: list[RollupKey], now: datetime) -> None:
        """`add_rollups` of the deltas of `keys` (sorted, at least one)."""

    @abstractmethod
    def unique_state_rebuild(
        self, organization_id: UUID | str, fields: Mapping[str, str | None], external_subscription_id: str | None
    ) -> int:
        """Recompute the unique-count state of the codes of `fields` (code -> unique-count field
        name, None when the code is not a unique count now) from raw events; 0 where the store
        keeps none."""


# --- shared by the database stores --------------------------------------------------------------


@dataclass
class RollupDelta:
    events_count: int = 0
    value_sum: Decimal = Decimal(0)
    value_max: Decimal | None = None
    precise_sum: Decimal = Decimal(0)
    value_time_sum: Decimal = Decimal(0)


def rollup_deltas(events: Iterable[ParsedEvent]) -> dict[RollupKey, tuple[dict, RollupDelta]]:
    """What `events` add to their hourly rollups (events of unknown metrics add nothing)."""
    deltas: dict[RollupKey, tuple[dict, RollupDelta]] = {}
    for event in events:
        if not event.metric_known:
            continue
        dims_key = dimensions_key(event.dimensions)
        key = (event.external_subscription_id, event.code, truncate_hour(event.timestamp), dims_key)
        entry = deltas.get(key)
        if entry is None:
            entry = deltas[key] = (event.dimensions, RollupDelta())
        delta = entry[1]
        delta.events_count += 1
        if event.precise_total_amount_cents is not None:
            delta.precise_sum += event.precise_total_amount_cents
        if event.value is not None:
            delta.value_sum += event.value
            delta.value_time_sum = EXACT.add(
                delta.value_time_sum, EXACT.multiply(event.value, unix_seconds(event.timestamp))
            )
            if delta.value_max is None or event.value > delta.value_max:
                delta.value_max = event.value
    return deltas


EVENT_COLUMNS = [
    "id", "organization_id", "transaction_id", "external_subscription_id", "external_customer_id", "code",
    "timestamp", "properties", "precise_total_amount_cents", "value", "subscription_id", "customer_id", "created_at",
    "updated_at",
]  # fmt: skip

ROLLUP_COLUMNS = [
    "id",
    "organization_id",
    "external_subscription_id",
    "code",
    "hour",
    "dimensions_key",
    "dimensions",
    "events_count",
    "value_sum",
    "value_max",
    "precise_sum",
    "value_time_sum",
    "created_at",
    "updated_at",
]

EVENT_CONFLICT = "ON CONFLICT (organization_id, external_subscription_id, transaction_id) DO NOTHING"


def rollup_conflict(table: str) -> str:
    """The upsert clause that adds a new rollup row to an existing one."""
    t = table
    return (
        "ON CONFLICT (organization_id, external_subscription_id, code, hour, dimensions_key) DO UPDATE SET "
        f"events_count = {t}.events_count + excluded.events_count, "
        f"value_sum = {t}.value_sum + excluded.value_sum, "
        f"precise_sum = {t}.precise_sum + excluded.precise_sum, "
        f"value_time_sum = {t}.value_time_sum + excluded.value_time_sum, "
        f"value_max = CASE WHEN {t}.value_max IS NULL THEN excluded.value_max "
        f"WHEN excluded.value_max IS NULL THEN {t}.value_max "
        f"WHEN excluded.value_max > {t}.value_max THEN excluded.value_max ELSE {t}.value_max END, "
        "updated_at = excluded.updated_at"
    )


def default_refs(events: Sequence[ParsedEvent]) -> dict[str, tuple[str, str]]:
    return {
        e.external_subscription_id: (str(e.subscription_id), str(e.customer_id))
        for e in events
        if e.subscription_id is not None
    }


def event_key(event: ParsedEvent) -> tuple[str, str]:
    return (event.external_subscription_id, event.transaction_id)


__all__ = [
    "EVENT_COLUMNS",
    "ROLLUP_COLUMNS",
    "Additive",
    "DatabaseEventStore",
    "EventReader",
    "EventStore",
    "RollupDelta",
    "SubscriptionRefs",
    "Written",
    "rollup_deltas",
]
