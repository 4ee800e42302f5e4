from __future__ import annotations

import pytest

from tests.payments.fake_stripe import FakeStripe


@pytest.fixture
def fake_stripe(settings):
    fake = FakeStripe()
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_TIMEOUT_SECONDS = 0.5
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    settings.PAYMENTS_RETRY_SCHEDULE_DAYS = [1, 3, 5, 7]
    yield fake
    fake.close()


@pytest.fixture
def fake_adyen(settings):
    from tests.payments.fake_adyen import FakeAdyen

    fake = FakeAdyen()
    settings.ADYEN_API_BASE = fake.url
    settings.ADYEN_TIMEOUT_SECONDS = 0.5
    settings.PAYMENTS_RETRY_SCHEDULE_DAYS = [1, 3, 5, 7]
    yield fake
    fake.close()


@pytest.fixture
def fake_gocardless(settings):
    from tests.payments.fake_gocardless import FakeGoCardless

    fake = FakeGoCardless()
    settings.GOCARDLESS_API_BASE = fake.url
    settings.GOCARDLESS_TIMEOUT_SECONDS = 0.5
    settings.PAYMENTS_RETRY_SCHEDULE_DAYS = [1, 3, 5, 7]
    yield fake
    fake.close()
