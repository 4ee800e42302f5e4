"""Reporting and exports read from the read replica when one is configured
(`DATABASE_REPLICA_URL`, billing_project/core/replica.py), never write to it, and everything else
keeps reading `default`. The "replica" here is a second, read-only connection to the test
database, added for the test (the suite's settings have none)."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import InternalError, connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.db.utils import DatabaseError
from django.test.utils import CaptureQueriesContext

from billing_project.core.replica import REPLICA, ReplicaRouter, replica_reads
from invoicing.models import Invoice
from reporting import services
from reporting.models import Export, ExportStatus
from tests.factories.customers import CustomerFactory
from tests.factories.reporting import make_invoice

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def replica(settings, tmp_path):
    if connections["default"].vendor != "postgresql":
        pytest.skip("a read replica is a PostgreSQL deployment's")
    settings.MEDIA_ROOT = tmp_path
    copy = dict(connections["default"].settings_dict)
    copy["OPTIONS"] = {**copy.get("OPTIONS", {}), "options": "-c default_transaction_read_only=on"}
    settings.DATABASES = {**settings.DATABASES, REPLICA: copy}  # what replica_configured() reads
    wrapper = DatabaseWrapper(copy, alias=REPLICA)  # a connection made here, as a deployment's would be
    connections[REPLICA] = wrapper
    yield wrapper
    wrapper.close()
    del connections[REPLICA]


def _tables(queries) -> str:
    return " ".join(q["sql"] for q in queries)


def test_analytics_and_exports_read_the_replica_and_write_default(api, organization, replica):
    customer = CustomerFactory(organization=organization, external_id="acme", currency="EUR")
    make_invoice(customer, date.today(), 12_345, number="ACM-001")

    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(connections["default"]) as on_default:
        response = api.get("/api/v1/analytics/gross_revenue?currency=EUR")
    assert response.status_code == 200
    assert response.json()["gross_revenues"][-1]["amount_cents"] == 12_345
    assert "invoicing_invoice" in _tables(on_replica.captured_queries)
    assert "invoicing_invoice" not in _tables(on_default.captured_queries)  # only the API key's lookup

    with CaptureQueriesContext(replica) as on_replica:  # the task runs on commit (eager here)
        export = services.export_request(
            organization, resource_type="invoices", from_date=date.today(), to_date=date.today()
        )
        services.export_run(str(export.id))  # run again: already completed, nothing more
    export = Export.objects.get(id=export.id)
    assert export.status == ExportStatus.COMPLETED and export.row_count == 1
    assert "ACM-001" in export.file.read().decode()
    assert "invoicing_invoice" in _tables(on_replica.captured_queries)
    assert not any(q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT")) for q in on_replica.captured_queries)


def test_nothing_else_reads_the_replica_and_it_refuses_writes(organization, replica):
    customer = CustomerFactory(organization=organization, currency="EUR")
    invoice = make_invoice(customer, date.today(), 100)
    with CaptureQueriesContext(replica) as on_replica:
        assert Invoice.objects.filter(id=invoice.id).count() == 1
    assert on_replica.captured_queries == []  # outside replica_reads(): default
    with replica_reads() as alias:
        assert alias == REPLICA
        invoice.total_amount_cents = 200
        invoice.save(update_fields=["total_amount_cents"])  # writes go to default, inside the block too
    assert Invoice.objects.get(id=invoice.id).total_amount_cents == 200
    with pytest.raises((InternalError, DatabaseError), match="read-only"):
        Invoice.objects.using(REPLICA).filter(id=invoice.id).update(total_amount_cents=300)
    router = ReplicaRouter()
    assert router.allow_migrate(REPLICA, "invoicing") is False and router.allow_migrate("default", "invoicing")


def test_without_a_replica_reporting_reads_default(organization):
    with replica_reads() as alias:
        assert alias == "default"
        assert ReplicaRouter().db_for_read(Invoice) is None


def test_statement_timeout_reaches_postgresql():
    connection = connections["default"]
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    connection.close()  # a new session, as a worker's (migrations lift the limit on theirs)
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        (value,) = cursor.fetchone()
    assert value == "5min"  # DATABASE_STATEMENT_TIMEOUT_MS's default, 300000
