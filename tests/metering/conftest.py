from __future__ import annotations

import pytest

from tests.factories.metering import FakeSubscriptions


@pytest.fixture(autouse=True)
def known_subscriptions():
    """Metering tests run with a fake subscription lookup: every id is known except `ghost*`."""
    fake = FakeSubscriptions(known_by_default=True).install()
    yield fake
    FakeSubscriptions.uninstall()


@pytest.fixture(autouse=True)
def closed_clickhouse_breaker():
    """Each test starts with ClickHouse reads allowed (a failure in one test opens the breaker of
    the whole process for CLICKHOUSE_BREAKER_SECONDS)."""
    from metering.clickhouse.breaker import breaker

    breaker.reset()
    yield
    breaker.reset()
