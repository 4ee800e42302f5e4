"""POST /customers (upsert): statements per request, sequential ids under concurrency (PostgreSQL)."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLogEntry
from catalog.models import CustomerTax
from customers.inputs import CustomerUpsert
from customers.models import Customer
from customers.services import _LOCKED_CUSTOMER, customer_delete, customer_upsert
from tests.factories.catalog import TaxFactory
from tests.factories.customers import OrganizationFactory
from tests.factories.webhooks import WebhookEndpointFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint


def _post(client, body: dict) -> tuple[dict, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/customers", {"customer": body}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["customer"], [
        q["sql"] for q in captured.captured_queries if "customers_apikey" not in q["sql"]
    ]


@pytest.mark.django_db
def test_create_and_update_statements(tenant, settings):
    settings.CLICKHOUSE_URL = ""  # statement counts of the PostgreSQL path (CI sets ClickHouse)
    _post(tenant.client, {"external_id": "c0"})  # warm: the key's last use, the audit's content type
    created, create_sql = _post(tenant.client, {"external_id": "c1", "name": "One", "currency": "USD"})
    assert created["sequential_id"] == 2 and created["metadata"] == [] and created["taxes"] == []
    # BEGIN, lookup (locked; says whether webhook endpoints exist), sequence UPDATE … RETURNING
    # (says it too), INSERT, audit, COMMIT. A new customer has no metadata, and no taxes when none
    # were sent: its representation reads neither. No endpoint read: the organization has none.
    assert len(create_sql) == 6, create_sql
    assert not any('FROM "customers_customermetadata"' in sql and "EXISTS" not in sql for sql in create_sql)
    assert not any('FROM "catalog_tax"' in sql for sql in create_sql)
    assert not any('FROM "webhooks_webhookendpoint" WHERE' in sql and "EXISTS" not in sql for sql in create_sql)
    assert sum('"customers_organization"' in sql for sql in create_sql) == 1
    assert sum('INSERT INTO "audit_auditlogentry"' in sql for sql in create_sql) == 1

    updated, update_sql = _post(tenant.client, {"external_id": "c1", "name": "Uno"})
    assert updated["sequential_id"] == 2 and updated["name"] == "Uno" and updated["currency"] == "USD"
    # BEGIN, lookup (locked, with the EXISTS of the endpoints, of the customer's metadata and of
    # its taxes), UPDATE, audit, COMMIT: the customer has neither metadata nor taxes, so the
    # representation reads neither. The audit's before-image is the locked row (no second read of
    # the customer), the caller's organization is reused.
    assert len(update_sql) == 5, update_sql
    assert sum('FROM "customers_customer"' in sql for sql in update_sql) == 1
    # The locked read leaves the entity's large columns out and fits psycopg's parse cache.
    [locked] = [sql for sql in update_sql if 'FROM "customers_customer"' in sql]
    assert '"email_settings"' not in locked and len(locked.encode()) <= 4096
    assert not any('FROM "customers_customermetadata"' in sql and "EXISTS" not in sql for sql in update_sql)
    assert not any('FROM "catalog_tax"' in sql for sql in update_sql)
    assert not any('"customers_organization"' in sql for sql in update_sql)
    entry = AuditLogEntry.objects.filter(action="update", object_id=updated["lago_id"]).get()
    assert entry.changes == {"name": ["One", "Uno"]}

    second, _ = _post(tenant.client, {"external_id": "c2", "metadata": [{"key": "k", "value": "v"}]})
    assert second["sequential_id"] == 3 and [m["key"] for m in second["metadata"]] == ["k"]
    tenant.organization.refresh_from_db()
    assert tenant.organization.customer_sequence == 3
    # The locked read is compiled once (billing_project.core.prepared), not built by the ORM each time.
    assert [entry is not False for entry in _LOCKED_CUSTOMER._compiled.values()] == [True]


@pytest.mark.django_db
def test_an_update_reads_the_metadata_and_taxes_it_has(tenant, settings):
    """The EXISTS flags of the locked read only spare the reads of what the customer does not have:
    with metadata, taxes or both, the representation reads them and is what a fresh read renders."""
    settings.CLICKHOUSE_URL = ""
    tax = TaxFactory(organization=tenant.organization, code="vat", rate=Decimal("20.5"))
    _post(tenant.client, {"external_id": "c0"})
    _post(tenant.client, {"external_id": "m", "metadata": [{"key": "k", "value": "v"}]})
    _post(tenant.client, {"external_id": "t", "tax_codes": ["vat"]})
    _post(tenant.client, {"external_id": "mt", "metadata": [{"key": "k", "value": "v"}], "tax_codes": ["vat"]})
    CustomerTax.objects.create(customer=Customer.objects.get(external_id="c0"), tax=tax)  # not through an upsert
    expected = {"m": (6, 1, 0), "t": (6, 0, 1), "mt": (7, 1, 1), "c0": (6, 0, 1)}
    for external_id, (statements, metadata, taxes) in expected.items():
        updated, update_sql = _post(tenant.client, {"external_id": external_id, "name": "Renamed"})
        assert len(update_sql) == statements, update_sql
        assert sum('FROM "customers_customermetadata"' in sql and "EXISTS" not in sql for sql in update_sql) == (
            metadata
        )
        assert sum('FROM "catalog_tax"' in sql for sql in update_sql) == taxes
        assert len(updated["metadata"]) == metadata and [t["code"] for t in updated["taxes"]] == ["vat"] * taxes
        response = tenant.client.get(f"/api/v1/customers/{external_id}")
        assert json.dumps(updated) == json.dumps(response.json()["customer"]) and updated["name"] == "Renamed"


@pytest.mark.django_db
def test_a_creation_with_taxes_returns_them(tenant):
    TaxFactory(organization=tenant.organization, code="vat")
    created, _ = _post(
        tenant.client, {"external_id": "n", "tax_codes": ["vat"], "metadata": [{"key": "a", "value": "b"}]}
    )
    assert [t["code"] for t in created["taxes"]] == ["vat"] and [m["key"] for m in created["metadata"]] == ["a"]
    assert created == tenant.client.get("/api/v1/customers/n").json()["customer"]
    cleared, _ = _post(tenant.client, {"external_id": "n", "tax_codes": [], "metadata": []})
    assert cleared["taxes"] == [] and cleared["metadata"] == []


@pytest.mark.django_db
def test_an_organization_with_an_endpoint_records_its_deliveries(tenant, settings):
    """The endpoints' EXISTS only spares the outbox read when there is no endpoint: with one, the
    outbox reads the endpoints (one more statement) and records a delivery per upsert."""
    settings.CLICKHOUSE_URL = ""
    _post(tenant.client, {"external_id": "c0"})
    endpoint = WebhookEndpointFactory(organization=tenant.organization, event_types=["customer.updated"])
    created, create_sql = _post(tenant.client, {"external_id": "c1", "name": "One"})
    assert len(create_sql) == 7, create_sql  # + the endpoint read; customer.created is not wanted
    assert not WebhookDelivery.objects.exists()
    updated, update_sql = _post(tenant.client, {"external_id": "c1", "name": "Uno"})
    assert len(update_sql) == 7, update_sql  # + the endpoint read, the delivery (its payload is the response)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.endpoint_id, delivery.webhook_type) == (endpoint.pk, "customer.updated")
    sent = json.loads(delivery.body)["customer"]
    assert sent == updated and sent["name"] == "Uno" and sent["lago_id"] == created["lago_id"]
    # An endpoint of another organization does not count.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
    WebhookEndpointFactory(organization=OrganizationFactory())
    _, again_sql = _post(tenant.client, {"external_id": "c1", "name": "Eins"})
    assert len(again_sql) == 5, again_sql
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
def test_the_locked_row_is_the_audit_before_image(tenant):
    """A service update after the locked read records exactly what changed (JSON fields included),
    and a save that changes nothing records nothing."""
    customer, _ = customer_upsert(
        tenant.organization, CustomerUpsert(external_id="a1", name="A", shipping_address={"city": "Paris"})
    )
    customer_upsert(tenant.organization, CustomerUpsert(external_id="a1", shipping_address={"city": "Lyon"}))
    customer_upsert(tenant.organization, CustomerUpsert(external_id="a1", name="A"))
    entries = list(AuditLogEntry.objects.filter(object_id=str(customer.pk)).order_by("created_at"))
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].changes == {"shipping_address": [{"city": "Paris"}, {"city": "Lyon"}]}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_concurrent_creations_get_distinct_gapless_sequential_ids():
    organization = OrganizationFactory()
    barrier = threading.Barrier(6)
    errors: list[Exception] = []

    def create(index: int) -> None:
        try:
            barrier.wait()
            customer_upsert(organization, CustomerUpsert(external_id=f"race_{index}"))
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


@pytest.mark.django_db
def test_soft_delete_audits_from_the_locked_row(tenant):
    customer, _ = customer_upsert(tenant.organization, CustomerUpsert(external_id="d1", name="D"))
    with CaptureQueriesContext(connection) as captured:
        customer_delete(tenant.organization, "d1")
    # savepoint/BEGIN, the locked read, UPDATE, audit entry, release/COMMIT: no second read of the row.
    assert sum('FROM "customers_customer"' in q["sql"] for q in captured.captured_queries) == 1
    entry = AuditLogEntry.objects.get(object_id=str(customer.pk), action="update")
    assert list(entry.changes) == ["deleted_at"] and entry.changes["deleted_at"][0] is None
    assert entry.changes["deleted_at"][1] is not None


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_concurrent_creations_of_one_external_id_make_one_customer():
    """Every request misses the row in its locked read and inserts; all but the first hit the unique
    constraint, roll back and retry as an update of the row the first one created."""
    organization = OrganizationFactory()
    barrier = threading.Barrier(4)
    results: list[tuple[object, bool, str]] = []
    errors: list[Exception] = []

    def upsert(index: int) -> None:
        try:
            barrier.wait()
            customer, created = customer_upsert(organization, CustomerUpsert(external_id="same", name=f"n{index}"))
            results.append((customer.pk, created, customer.name))
        except Exception as exc:  # inspected below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=upsert, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    [customer] = Customer.objects.filter(organization=organization, external_id="same")
    assert {pk for pk, _, _ in results} == {customer.pk} and len(results) == 4
    assert sorted(created for _, created, _ in results) == [False, False, False, True]
    assert customer.sequential_id == 1 and customer.name in {name for _, _, name in results}
    actions = list(AuditLogEntry.objects.filter(object_id=str(customer.pk)).values_list("action", flat=True))
    assert actions.count("create") == 1
    organization.refresh_from_db()
    assert organization.customer_sequence == 1
