"""A frozen ClickHouse cannot hang requests or billing (the reproduction of the fault).

`FrozenClickHouse` accepts TCP connections and never answers, as a ClickHouse stopped with
SIGSTOP (or a saturated one) does: the kernel completes the handshake, nothing replies. Before the
deadlines and the breaker, every aggregation waited 30 s for it (gunicorn killed the worker first).
No real ClickHouse is needed.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from invoicing.billing.run import customer_bill
from metering import clickhouse, services
from metering.aggregation import aggregate
from metering.clickhouse import store
from metering.clickhouse.breaker import breaker
from metering.models import ClickHouseBackfill
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe
from tests.factories.metering import event_payload

pytestmark = pytest.mark.django_db

MARCH = datetime(2024, 3, 1, tzinfo=UTC)
APRIL = datetime(2024, 4, 1, tzinfo=UTC)


class FrozenClickHouse:
    """A TCP server that accepts and never answers; counts the connections it was offered."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"clickhouse://default@127.0.0.1:{self.listener.getsockname()[1]}/bxb_frozen"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)  # held open, never read, never answered

    def close(self) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def frozen(settings):
    server = FrozenClickHouse()
    settings.CLICKHOUSE_URL = server.url
    settings.CLICKHOUSE_TIMEOUT_SECONDS = 0.5
    settings.CLICKHOUSE_BREAKER_SECONDS = 60
    breaker.reset()
    yield server
    store.forget_clients()
    breaker.reset()
    server.close()


def backfilled(organization) -> None:
    """The organization was copied to this ClickHouse before it froze (its backfill is complete)."""
    ClickHouseBackfill.objects.create(organization=organization, target=store.target(), status="complete")


def fallbacks(reason: str) -> float:
    return REGISTRY.get_sample_value("bxb_clickhouse_fallbacks_total", {"reason": reason}) or 0.0


def timed(function):
    started = time.monotonic()
    result = function()
    return result, time.monotonic() - started


def test_a_frozen_clickhouse_costs_one_short_wait_then_postgres_answers(organization, frozen):
    metric = make_metric(organization, "m")
    with override_settings(CLICKHOUSE_URL=""):
        services.events_ingest(
            organization,
            [event_payload(f"t{i}", code="m", sub="s1", timestamp=int(MARCH.timestamp()) + i) for i in range(7)],
        )
    backfilled(organization)
    unavailable, open_breaker = fallbacks("unavailable"), fallbacks("breaker_open")

    def read():
        return aggregate(
            organization, external_subscription_id="s1", metric=metric, from_datetime=MARCH, to_datetime=APRIL
        )

    first, seconds = timed(read)
    assert (first.source, first.units) == ("rollups", 7)
    assert seconds < 3  # the read deadline (0.5 s), not the driver's 30 s
    assert len(frozen.connections) == 1
    assert breaker.remaining() > 50
    second, seconds = timed(read)
    assert (second.source, second.units) == ("rollups", 7)
    assert seconds < 0.5  # the breaker is open: ClickHouse is not tried
    assert len(frozen.connections) == 1
    assert fallbacks("unavailable") == unavailable + 1
    assert fallbacks("breaker_open") == open_breaker + 1


def test_after_the_pause_clickhouse_is_tried_again(organization, frozen, settings):
    settings.CLICKHOUSE_BREAKER_SECONDS = 0.2
    metric = make_metric(organization, "m")
    backfilled(organization)

    def read():
        return aggregate(
            organization, external_subscription_id="s1", metric=metric, from_datetime=MARCH, to_datetime=APRIL
        )

    assert read().source == "rollups"
    time.sleep(0.3)
    result, seconds = timed(read)
    assert result.source == "rollups"
    assert len(frozen.connections) == 2  # tried once more after the pause
    assert seconds < 3


def test_asking_for_clickhouse_explicitly_raises_instead_of_answering_from_postgres(organization, frozen):
    metric = make_metric(organization, "m")
    with pytest.raises(clickhouse.Unavailable):
        aggregate(
            organization,
            external_subscription_id="s1",
            metric=metric,
            from_datetime=MARCH,
            to_datetime=APRIL,
            store="clickhouse",
        )


def test_the_usage_api_and_billing_answer_while_clickhouse_is_frozen(api, organization, frozen):
    customer = make_customer(organization, external_id="cus_f")
    plan = make_plan(organization, amount_cents=1000)
    metric = make_metric(organization, "calls")
    make_charge(plan, metric, properties={"amount": "1"})
    sub = subscribe(customer, plan, datetime(2024, 1, 1, tzinfo=UTC), external_id="sub_f")
    with override_settings(CLICKHOUSE_URL=""):
        add_events(sub, "calls", [datetime(2024, 1, 10, tzinfo=UTC)] * 3)
    backfilled(organization)
    response, seconds = timed(lambda: api.get("/api/v1/customers/cus_f/current_usage?external_subscription_id=sub_f"))
    assert response.status_code == 200
    assert seconds < 5
    [invoice], seconds = timed(lambda: customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC)))
    assert invoice.fees_amount_cents == 1000 + 300
    assert seconds < 5


def test_prorated_usage_falls_back_too(organization, frozen):
    from metering.aggregation import aggregate_prorated

    metric = make_metric(organization, "seats", "sum_agg", field_name="n", recurring=True)
    with override_settings(CLICKHOUSE_URL=""):
        services.events_ingest(
            organization,
            [event_payload("s", code="seats", sub="s1", timestamp=int(MARCH.timestamp()), properties={"n": "3"})],
        )
    backfilled(organization)

    def read():
        return aggregate_prorated(
            organization,
            external_subscription_id="s1",
            metric=metric,
            from_datetime=MARCH,
            to_datetime=APRIL,
            period_days=31,
            tz_name="UTC",
            subscription_started_at=MARCH,
        )

    result, seconds = timed(read)
    assert (result.source, result.full_units) == ("events", 3)  # PostgreSQL's raw events
    assert seconds < 3
    with pytest.raises(clickhouse.Unavailable):
        breaker.reset()
        aggregate_prorated(
            organization,
            external_subscription_id="s1",
            metric=metric,
            from_datetime=MARCH,
            to_datetime=APRIL,
            period_days=31,
            tz_name="UTC",
            subscription_started_at=MARCH,
            store="clickhouse",
        )
