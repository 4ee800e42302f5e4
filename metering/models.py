"""Usage events, the problems found in them, and hourly usage rollups.

Raw events are the source of truth. `UsageRollup` keeps, per hour, what is additive (count, sum,
max) so a month aggregates from a few hundred rows; it is rebuildable from raw events.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from billing_project.core.models import BaseModel, ByteOrderCharField

# Exact decimals: 38 digits, 12 after the point (PostgreSQL numeric(38,12)).
VALUE_DIGITS = 38
VALUE_PLACES = 12
# Σ value × Unix seconds: a value's 12 places plus the 6 of a microsecond timestamp, exactly.
TIME_SUM_DIGITS = 65
TIME_SUM_PLACES = 18


class Event(BaseModel):
    """One usage event, as the integrator sent it, plus its numeric `value` for aggregation.

    Idempotency key: (organization, external_subscription_id, transaction_id).
    `value` is the metric's `field_name` property (or its expression result) as an exact decimal,
    computed at ingestion; it is null for count metrics, unknown codes and non-numeric values.
    """

    # Re-declared without the per-column index of BaseModel: this table is written at volume.
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Neither an index of its own (every index of this table starts with the organization) nor a
    # database constraint (a per-row trigger on the hottest insert; the organization is the API
    # key's, never client input, and deleting one still cascades through Django's collector).
    organization = models.ForeignKey(
        "customers.Organization", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    transaction_id = models.CharField(max_length=255)
    external_subscription_id = models.CharField(max_length=255)
    external_customer_id = models.CharField(max_length=255, blank=True, default="")
    code = models.CharField(max_length=255)
    timestamp = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    precise_total_amount_cents = models.DecimalField(
        max_digits=VALUE_DIGITS, decimal_places=VALUE_PLACES, null=True, blank=True
    )
    value = models.DecimalField(max_digits=VALUE_DIGITS, decimal_places=VALUE_PLACES, null=True, blank=True)
    # Resolved at ingestion (`subscriptions.selectors.subscription_refs`); plain UUIDs, no foreign keys.
    subscription_id = models.UUIDField(null=True, blank=True)
    customer_id = models.UUIDField(null=True, blank=True)

    # Every index costs each ingested row a B-tree insertion, so the table has exactly three besides
    # the primary key (docs/metering.md, "Indexes"): the idempotency key, ordered (organization,
    # transaction_id, external_subscription_id) so that it also finds an event by transaction id
    # (`GET /events/{transaction_id}`); the usage index of aggregation; and (organization,
    # timestamp) for the newest-first event list and the per-organization rebuilds.
    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "transaction_id", "external_subscription_id"],
                name="metering_event_idempotency_txn",
            )
        ]
        indexes = [
            models.Index(
                fields=["organization", "external_subscription_id", "code", "timestamp"], name="metering_event_usage"
            ),
            models.Index(fields=["organization", "timestamp"], name="metering_event_org_ts"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.transaction_id}"


class EventErrorCode(models.TextChoices):
    INVALID_CODE = "invalid_code"
    UNKNOWN_SUBSCRIPTION = "unknown_subscription"
    MISSING_AGGREGATION_PROPERTY = "missing_aggregation_property"
    INVALID_AGGREGATION_PROPERTY = "invalid_aggregation_property"
    EXPRESSION_FAILED = "expression_failed"
    # Found after ingestion: the instant fee of a pay-in-advance charge could not be computed for
    # this event (`message` says why). The event stays stored and counted in usage; the
    # reconciliation sweep tries again and removes the error once the fee exists.
    PAY_IN_ADVANCE_FEE_FAILED = "pay_in_advance_fee_failed"


class EventError(BaseModel):
    """A stored event that cannot be billed as it is (reported by webhook and listed by the API)."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="errors")
    error_code = models.CharField(max_length=64, choices=EventErrorCode.choices)
    transaction_id = models.CharField(max_length=255)
    external_subscription_id = models.CharField(max_length=255)
    code = models.CharField(max_length=255)
    message = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "error_code"], name="metering_event_error_once")]
        indexes = [models.Index(fields=["organization", "-created_at"], name="metering_eventerror_org")]
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.error_code}: {self.transaction_id}"


class UsageRollup(BaseModel):
    """Additive usage of one (subscription, metric code, dimensions) in one UTC hour.

    `dimensions` holds the event's values for the metric's filter keys (canonical JSON in
    `dimensions_key`), so charge filters can be matched on rollups as on raw events.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # No index of its own: the rollup key starts with the organization.
    organization = models.ForeignKey(
        "customers.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    external_subscription_id = models.CharField(max_length=255)
    code = models.CharField(max_length=255)
    hour = models.DateTimeField()
    dimensions_key = models.TextField(default="{}")
    dimensions = models.JSONField(default=dict, blank=True)
    events_count = models.BigIntegerField(default=0)
    value_sum = models.DecimalField(max_digits=VALUE_DIGITS, decimal_places=VALUE_PLACES, default=0)
    value_max = models.DecimalField(max_digits=VALUE_DIGITS, decimal_places=VALUE_PLACES, null=True, blank=True)
    precise_sum = models.DecimalField(
        max_digits=VALUE_DIGITS, decimal_places=VALUE_PLACES, default=0, help_text="Σ precise_total_amount_cents"
    )
    # Σ value × the event's Unix time in seconds (microseconds exact): with value_sum it gives a
    # weighted sum's Σ level × seconds of any window (docs/metering.md, "Weighted sums from rollups").
    # Null on rows written before the column existed (until rebuilt): those windows read raw events.
    value_time_sum = models.DecimalField(
        max_digits=TIME_SUM_DIGITS, decimal_places=TIME_SUM_PLACES, null=True, help_text="Σ value × Unix seconds"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_subscription_id", "code", "hour", "dimensions_key"],
                name="metering_rollup_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_subscription_id} {self.code} {self.hour:%Y-%m-%d %H}:00"


class UniqueCountLink(models.Model):
    """One event of a unique-count metric, linked to the previous and next event of the same value
    (same organization, subscription and code; order: timestamp, created_at, transaction id).

    Written by the ingestion statement (PostgreSQL) for the inserted events; the trigger of
    migration 0009 (`metering_unique_link`) links each new row to its neighbours and keeps
    `UniqueCountRollup` in step, so late and out-of-order events are handled exactly. Rebuilt from
    raw events by `rebuild_usage_rollups` (docs/metering.md, "Unique counts from state").
    """

    id = models.BigAutoField(primary_key=True)
    # No database-level foreign key (a per-row check at commit; as for events, migration 0004).
    organization = models.ForeignKey(
        "customers.Organization", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    external_subscription_id = models.CharField(max_length=255)
    code = models.CharField(max_length=255)
    value = models.TextField()
    timestamp = models.DateTimeField()
    created_at = models.DateTimeField()
    transaction_id = ByteOrderCharField(max_length=255)
    adds = models.BooleanField()  # operation_type is not "remove"
    next_at = models.DateTimeField(null=True)  # the next event's timestamp (null: none)
    prev_at = models.DateTimeField(null=True)  # the previous event's timestamp (null: none)
    prev_adds = models.BooleanField(null=True)  # the previous event's `adds`
    linked = models.BooleanField(db_default=False)  # its trigger ran (or a rebuild wrote it linked)

    class Meta:
        indexes = [
            models.Index(
                fields=[
                    "organization",
                    "external_subscription_id",
                    "code",
                    "value",
                    "timestamp",
                    "created_at",
                    "transaction_id",
                ],
                name="metering_unique_value",
            ),
            models.Index(
                fields=["organization", "external_subscription_id", "code", "timestamp"], name="metering_unique_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_subscription_id} {self.code} {self.value} {self.timestamp:%Y-%m-%d %H:%M:%S}"


class UniqueCountRollup(models.Model):
    """Per (subscription, code, UTC hour of an `add` event, UTC hour of the next event of its value):
    how many such events. A unique count over whole hours [S, E) is the sum over hour in [S, E) and
    next hour >= E (`NEVER`: no next event); docs/metering.md, "Unique counts from state"."""

    NEVER = "9999-12-31T00:00:00+00:00"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "customers.Organization", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    external_subscription_id = models.CharField(max_length=255)
    code = models.CharField(max_length=255)
    hour = models.DateTimeField()
    next_hour = models.DateTimeField()
    adds = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_subscription_id", "code", "hour", "next_hour"],
                name="metering_unique_rollup_key",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.external_subscription_id} {self.code} {self.hour:%Y-%m-%d %H}:00 -> {self.next_hour:%Y-%m-%d %H}:00"
        )


class ClickHouseOutbox(BaseModel):
    """Events committed in PostgreSQL and not yet written to ClickHouse (one row per ingestion).

    Written in the ingestion transaction when `CLICKHOUSE_URL` is set; a flush copies the events
    to ClickHouse and deletes the row. While ClickHouse is down the rows wait (the gap), and
    aggregation reads PostgreSQL for an organization that has pending rows.
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    event_ids = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["organization", "created_at"], name="metering_choutbox_org")]

    def __str__(self) -> str:
        return f"{len(self.event_ids)} events of {self.organization_id}"


class ClickHouseBackfillStatus(models.TextChoices):
    RUNNING = "running"  # copying stored events, or waiting for its verification
    COMPLETE = "complete"  # every event is in ClickHouse (verified by count): reads may use it
    FAILED = "failed"  # counts still differ after three scans: an operator must look (docs/operations.md)


class ClickHouseBackfill(BaseModel):
    """How far an organization's stored events have been copied to one ClickHouse database.

    Aggregation reads ClickHouse for an organization only when this row is `complete` for the
    ClickHouse of `CLICKHOUSE_URL` (`target`) and covers the events the aggregation reads
    (`from_timestamp` null: all of them; else those dated from it). Events stored before
    ClickHouse was switched on reach it only through this copy; later ones through the outbox.
    The copy walks the events in (timestamp, id) order from the cursor, so it resumes where it
    stopped; ClickHouse de-duplicates a copy made twice.
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    target = models.CharField(max_length=255, help_text="host:port/database of the ClickHouse copied to")
    from_timestamp = models.DateTimeField(null=True, blank=True, help_text="events dated from; empty: all")
    status = models.CharField(
        max_length=16, choices=ClickHouseBackfillStatus.choices, default=ClickHouseBackfillStatus.RUNNING
    )
    started_at = models.DateTimeField(
        default=timezone.now, help_text="when this walk started (or ClickHouse was last seen switched off)"
    )
    cursor_timestamp = models.DateTimeField(null=True, blank=True)
    cursor_id = models.UUIDField(null=True, blank=True)
    events_copied = models.BigIntegerField(default=0)
    scans = models.PositiveIntegerField(default=0, help_text="scans finished (a count mismatch starts another)")
    verified_events = models.BigIntegerField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "target"], name="metering_chbackfill_org_target")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} → {self.target}: {self.status}"


class EventKey(models.Model):
    """The idempotency key of an event stored in ClickHouse (organizations whose events store is
    ClickHouse): one row per (organization, transaction id, external subscription id).

    The ingestion transaction inserts the keys (`ON CONFLICT DO NOTHING RETURNING`), writes the new
    events to ClickHouse, then commits: PostgreSQL decides which request stored an event first
    (a concurrent request with the same key waits for the first to commit or roll back), so the
    API's duplicate answers and the pay-in-advance fees see each event once, and ClickHouse's
    ReplacingMergeTree read with FINAL absorbs a write repeated after a failed commit
    (docs/metering.md, "ClickHouse as the store of record"). No other column, no other index.
    """

    pk = models.CompositePrimaryKey("organization_id", "transaction_id", "external_subscription_id")
    organization_id = models.UUIDField()
    transaction_id = models.CharField(max_length=255)
    external_subscription_id = models.CharField(max_length=255)

    def __str__(self) -> str:
        return f"{self.external_subscription_id} {self.transaction_id}"


class EventsStoreMigrationStatus(models.TextChoices):
    COPYING = "copying"  # the ClickHouse backfill and the idempotency keys are being copied
    SWITCHED = "switched"  # ingestion writes ClickHouse; waiting for processes that still wrote PostgreSQL
    COMPLETE = "complete"


class EventsStoreMigration(BaseModel):
    """One organization's move from the PostgreSQL store to ClickHouse (`manage.py
    events_store_migrate`): each step records how far it went, so a rerun resumes."""

    organization = models.OneToOneField("customers.Organization", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=16, choices=EventsStoreMigrationStatus.choices, default=EventsStoreMigrationStatus.COPYING
    )
    keys_cursor = models.UUIDField(null=True, blank=True, help_text="last event id whose key was copied")
    keys_copied = models.BigIntegerField(default=0)
    switched_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.status}"
