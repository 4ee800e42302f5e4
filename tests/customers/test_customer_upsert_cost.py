"""POST /customers (upsert): statements per request, sequential ids under concurrency (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from customers.services import customer_upsert
from tests.factories.customers import OrganizationFactory


def _post(client, body: dict) -> tuple[dict, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/customers", {"customer": body}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["customer"], [
        q["sql"] for q in captured.captured_queries if "customers_apikey" not in q["sql"]
    ]


@pytest.mark.django_db
def test_create_and_update_statements(tenant):
    _post(tenant.client, {"external_id": "c0"})  # warm: the key's last use, the audit's content type
    created, create_sql = _post(tenant.client, {"external_id": "c1", "name": "One", "currency": "USD"})
    assert created["sequential_id"] == 2 and created["metadata"] == [] and created["taxes"] == []
    # BEGIN, lookup (locked), sequence UPDATE … RETURNING, INSERT, audit, webhook endpoints, COMMIT,
    # the customer's taxes for its representation (a new customer has no metadata to read).
    assert len(create_sql) <= 8, create_sql
    assert not any('FROM "customers_customermetadata"' in sql for sql in create_sql)
    assert sum('"customers_organization"' in sql for sql in create_sql) == 1

    updated, update_sql = _post(tenant.client, {"external_id": "c1", "name": "Uno"})
    assert updated["sequential_id"] == 2 and updated["name"] == "Uno" and updated["currency"] == "USD"
    # BEGIN, lookup (locked), the audit's before-image, UPDATE, audit, webhook endpoints, COMMIT,
    # metadata and taxes for the representation (not the organization: the caller's is reused).
    assert len(update_sql) <= 9, update_sql
    assert not any('"customers_organization"' in sql for sql in update_sql)

    second, _ = _post(tenant.client, {"external_id": "c2", "metadata": [{"key": "k", "value": "v"}]})
    assert second["sequential_id"] == 3 and [m["key"] for m in second["metadata"]] == ["k"]
    tenant.organization.refresh_from_db()
    assert tenant.organization.customer_sequence == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_concurrent_creations_get_distinct_gapless_sequential_ids():
    organization = OrganizationFactory()
    barrier = threading.Barrier(6)
    errors: list[Exception] = []

    def create(index: int) -> None:
        try:
            barrier.wait()
            customer_upsert(organization, {"external_id": f"race_{index}"})
        except Exception as exc:  # inspected below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    ids = sorted(Customer.objects.filter(organization=organization).values_list("sequential_id", flat=True))
    assert ids == [1, 2, 3, 4, 5, 6]
    organization.refresh_from_db()
    assert organization.customer_sequence == 6
