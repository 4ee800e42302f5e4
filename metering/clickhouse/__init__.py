"""The optional ClickHouse event store (`CLICKHOUSE_URL`, native protocol via clickhouse-driver).

PostgreSQL stays the source of truth and ClickHouse holds a copy of its events:
- `store`: the connection (with deadlines), the table, the copy of events (the outbox flush) and
  the reads (`Reader`). Each ingestion that stores events also writes a `ClickHouseOutbox` row in
  its transaction; `clickhouse_flush()` copies those events into a ReplacingMergeTree table
  ordered by the idempotency key, so a replay never counts twice (queries read it with FINAL).
  While ClickHouse is down the outbox keeps the gap, replayed when it answers again.
- `backfill`: the copy of the events stored before ClickHouse was switched on, and `readable()`,
  the rule for reading it: only for an organization whose backfill is complete and covers the
  window, with nothing pending in the outbox.
- `breaker`: after a failed read the process reads PostgreSQL for a few seconds without trying.
- `state`: the pre-aggregated states (materialized views into quarter-hour aggregate states) that
  usage reads take instead of the events, exact under duplicates and failed commits, and the
  settle job (`clickhouse_settle`).
- `record` / `migrate`: ClickHouse as the store of record of an organization, and the move to it.

docs/metering.md ("ClickHouse") describes all three.
"""

from metering.clickhouse.store import Reader, Unavailable, clickhouse_flush, enabled

__all__ = ["Reader", "Unavailable", "clickhouse_flush", "enabled"]
