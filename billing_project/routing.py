"""Which Celery queue each kind of work runs on: the one place tasks are routed.

A queue per kind of work, so a slow kind cannot starve another: a day of PDFs waits in `pdfs`
while invoices keep being billed from `billing`, and a webhook endpoint that times out holds
`webhooks` workers only. A worker started without `-Q` consumes every queue below (the embedded
default and a one-worker deployment need nothing else); larger deployments run workers per queue
(docs/operations.md, "Queues and workers").

A task is routed by its name: an exact entry in `TASK_QUEUES` first, else its prefix in
`PREFIX_QUEUES`. `tests/core/test_queues.py` fails when a task of ours has no queue, so a new
task has to be given one here.
"""

from __future__ import annotations

from typing import Any

from kombu import Queue

DEFAULT_QUEUE = "celery"  # Celery's own default name: messages queued before an upgrade still run

# name: what runs there
QUEUES: dict[str, str] = {
    "events": "side effects of ingestion: pay-in-advance fees per event, rollups, copies to ClickHouse",
    "billing": "billing runs, draft finalization, subscription lifecycle, wallets, overdue marking",
    "pdfs": "invoice, credit note and payment receipt PDFs",
    "webhooks": "outbound webhooks and UCP order events",
    "payments": "collection, provider events, refunds, payment retries and dunning",
    "emails": "document e-mails (invoices, credit notes, receipts, payment failures, reminders, orders)",
    "alerts": "usage alerts and progressive billing thresholds, per subscription and wallet",
    "reporting": "exports, audit and API log clean-up",
    DEFAULT_QUEUE: "anything not routed (none of ours: a test keeps it empty)",
}

TASK_QUEUES: dict[str, str] = {
    "invoicing.pay_in_advance_fees": "events",
    "invoicing.pay_in_advance_reconcile_sweep": "events",
    "invoicing.generate_pdf": "pdfs",
    "invoicing.generate_pdfs": "pdfs",
    "invoicing.credit_note_generate_pdf": "pdfs",
    "invoicing.pdfs_sweep": "pdfs",
    "payments.generate_payment_receipt_pdf": "pdfs",
    "payments.send_document_email": "emails",
    "ucp.send_order_confirmation": "emails",
    "audit.cleanup": "reporting",
}

PREFIX_QUEUES: tuple[tuple[str, str], ...] = (
    ("metering.", "events"),
    ("invoicing.", "billing"),
    ("subscriptions.", "billing"),
    ("webhooks.", "webhooks"),
    ("ucp.", "webhooks"),
    ("payments.", "payments"),
    ("usage_monitoring.", "alerts"),
    ("reporting.", "reporting"),
    ("audit.", "reporting"),
)


def queue_for(task_name: str) -> str:
    """The queue of a task name (`DEFAULT_QUEUE` when nothing matches)."""
    queue = TASK_QUEUES.get(task_name)
    if queue is not None:
        return queue
    for prefix, name in PREFIX_QUEUES:
        if task_name.startswith(prefix):
            return name
    return DEFAULT_QUEUE


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> dict[str, str]:
    """Celery's router: `task_routes = (route_task,)`. An explicit `queue=` on a call wins."""
    return {"queue": queue_for(name)}


def task_queues() -> tuple[Queue, ...]:
    return tuple(Queue(name, routing_key=name) for name in QUEUES)
