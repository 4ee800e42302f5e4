from __future__ import annotations

import pytest

from tests.factories.metering import FakeSubscriptions


@pytest.fixture(autouse=True)
def known_subscriptions():
    """Metering tests run with a fake subscription lookup: every id is known except `ghost*`."""
    fake = FakeSubscriptions(known_by_default=True).install()
    yield fake
    FakeSubscriptions.uninstall()
