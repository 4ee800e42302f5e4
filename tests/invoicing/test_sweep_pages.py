"""The billing sweep reads subscriptions in keyset pages (by primary key, no server-side cursor),
so it finds every due customer whatever the page size, and behind PgBouncer's transaction mode."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from invoicing.billing import sweep
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", [1, 2, 3, 7, 5000])
def test_every_due_customer_is_found_across_pages(organization, monkeypatch, page):
    monkeypatch.setattr(sweep, "SWEEP_CHUNK", page)
    plan = make_plan(organization)
    started = datetime(2024, 1, 1, tzinfo=UTC)
    due = {subscribe(make_customer(organization), plan, started).customer_id for _ in range(7)}
    later = subscribe(make_customer(organization), plan, datetime(2024, 3, 5, tzinfo=UTC))  # nothing due yet
    found = sweep.billing_due(datetime(2024, 2, 1, 1, tzinfo=UTC), organization=organization)
    assert set(found) == due and later.customer_id not in found
    assert all(entry.subscriptions == 1 for entry in found.values())
