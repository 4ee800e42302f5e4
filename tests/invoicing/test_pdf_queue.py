"""Billing never waits for PDFs: a billed batch publishes one `invoicing.generate_pdfs` message for
its finalized invoices, on the `pdfs` queue, after its commit, and renders none itself; the task
then renders and stores each PDF once (docs/operations.md, "Queues and workers")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from celery.signals import before_task_publish

from audit.models import AuditLogEntry
from billing_project import routing
from billing_project.celery import app
from invoicing import tasks
from invoicing.models import Invoice, InvoiceStatus
from invoicing.services import documents
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db

AT = datetime(2024, 5, 1, 1, tzinfo=UTC)


def _customers(organization, n):
    plan = make_plan(organization, amount_cents=1000)
    make_charge(plan, make_metric(organization, "calls"), properties={"amount": "1"})
    customers = []
    for _ in range(n):
        customer = make_customer(organization)
        subscribe(customer, plan, datetime(2024, 4, 1, tzinfo=UTC))
        customers.append(customer)
    add_events(customers[0].subscriptions.get(), "calls", [datetime(2024, 4, 5, tzinfo=UTC)] * 2)
    return customers


@pytest.fixture
def published():
    """The task messages published to the (in-memory) broker: (task name, queue routing key, args).
    Tasks are not run eagerly here, as in a deployment with a broker."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    sent: list[tuple[str, str, list]] = []

    def record(sender=None, body=None, routing_key=None, **kwargs):
        sent.append((sender, routing_key, list(body[0])))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)
    app.conf.task_always_eager = eager
    with app.connection_for_write() as connection:  # leave the in-memory queues empty
        for queue in routing.QUEUES:
            connection.default_channel.queue_purge(queue)


def test_a_billed_batch_leaves_its_pdfs_to_the_pdfs_queue(
    organization, settings, monkeypatch, published, django_capture_on_commit_callbacks
):
    settings.CLICKHOUSE_URL = ""
    settings.INVOICE_PDF_ON_FINALIZE = True
    customers = _customers(organization, 3)

    def no_rendering(*args, **kwargs):
        raise AssertionError("the billing task rendered a PDF")

    monkeypatch.setattr(documents, "render_invoice_pdf", no_rendering)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = tasks.bill_customers([str(c.id) for c in customers], AT.isoformat())
        assert [p for p in published if "pdf" in p[0]] == []  # nothing before the commit
    for callback in callbacks:
        callback()

    invoices = list(Invoice.objects.filter(status=InvoiceStatus.FINALIZED))
    assert created == len(invoices) == 3
    pdf_messages = [(name, queue, args) for name, queue, args in published if "pdf" in name]
    [(name, queue, [invoice_ids])] = pdf_messages  # one message for the batch
    assert (name, queue) == ("invoicing.generate_pdfs", "pdfs")
    assert sorted(invoice_ids) == sorted(str(i.id) for i in invoices)
    assert not any(i.file for i in invoices)  # billing returned without a PDF


def test_the_batch_pdf_task_makes_the_others_when_one_fails(organization, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    settings.CLICKHOUSE_URL = ""
    settings.INVOICE_PDF_ON_FINALIZE = False
    customers = _customers(organization, 3)
    assert tasks.bill_customers([str(c.id) for c in customers], AT.isoformat()) == 3
    first, *others = Invoice.objects.order_by("id")
    render = documents.render_invoice_pdf

    def failing(document):
        if document.number == first.number:
            raise RuntimeError("font missing")
        return render(document)

    monkeypatch.setattr(documents, "render_invoice_pdf", failing)
    assert tasks.invoices_generate_pdfs([str(i.id) for i in (first, *others)]) == 2
    assert [bool(Invoice.objects.get(id=i.id).file) for i in (first, *others)] == [False, True, True]
    monkeypatch.setattr(documents, "render_invoice_pdf", render)
    assert tasks.invoices_generate_pdfs([str(first.id)]) == 1  # what the sweeper does later


def test_the_pdf_task_stores_the_file_once_with_its_audit_entry(organization, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CLICKHOUSE_URL = ""
    settings.INVOICE_PDF_ON_FINALIZE = False  # the task is run by hand below
    customers = _customers(organization, 1)
    assert tasks.bill_customers([str(customers[0].id)], AT.isoformat()) == 1
    invoice = Invoice.objects.get()

    assert tasks.invoice_generate_pdf(str(invoice.id)) is True
    invoice.refresh_from_db()
    name = invoice.file.name
    assert name.endswith(f"{invoice.number}.pdf") and invoice.file_generated_at is not None
    with invoice.file.open("rb") as handle:
        assert handle.read(5) == b"%PDF-"
    [entry] = AuditLogEntry.objects.filter(object_id=str(invoice.id), action="update")
    assert entry.changes["file"] == ["", name]
    assert entry.changes["file_generated_at"][0] is None

    assert tasks.invoice_generate_pdf(str(invoice.id)) is True  # run twice: the stored file stays
    invoice.refresh_from_db()
    assert invoice.file.name == name
    assert AuditLogEntry.objects.filter(object_id=str(invoice.id), action="update").count() == 1
    assert tasks.invoice_generate_pdf("not-an-id") is False
