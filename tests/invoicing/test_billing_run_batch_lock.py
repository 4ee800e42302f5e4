"""A batch of a billing run locks its own row only, so the run's batches bill side by side."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from invoicing.billing import runs
from invoicing.models import BillingRun, BillingRunBatch

pytestmark = pytest.mark.django_db


def test_a_batch_lock_leaves_the_run_row_free(organization):
    if not connection.features.has_select_for_update:
        pytest.skip("row locks need PostgreSQL (SQLite locks the whole database)")
    run = BillingRun.objects.create(organization=organization, at=datetime(2024, 2, 1, tzinfo=UTC), trigger="test")
    batch = BillingRunBatch.objects.create(run=run, position=0, customer_ids=[])
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert runs._lock_batch(batch.id) == batch
    (sql,) = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    # The model orders by its run, which joins the run's row: a bare FOR UPDATE would lock it too,
    # and every batch would hold the run's row until its commit (the batches then ran one by one).
    assert 'FOR UPDATE OF "invoicing_billingrunbatch"' in sql
    assert 'FOR UPDATE OF "invoicing_billingrunbatch", "invoicing_billingrun"' not in sql
    assert runs._lock_batch(None) is None
