"""Writing a batch's invoices: gapless numbers from the locked counters, then bulk inserts.

    write(built) -> None      numbers, billing periods, fees, applied taxes, invoices, audit, notifications

Every row is inserted by `billing_project.core.bulk.insert_rows` (the same rows as `bulk_create`,
for a third of the Python work, by one `COPY` per table). Invoice numbers for all finalized invoices come from the locked counters (one upsert, `INSERT … ON CONFLICT DO
UPDATE … RETURNING`, for the customers' counters, one `UPDATE … RETURNING` for the organization's; gapless because the counters stay locked
until the commit). Then bulk inserts of billing periods (the unique constraint on (subscription,
reason, period) still guards every row), fees, applied taxes, invoices and audit entries; then the
`invoice.created` / `invoice.drafted` webhooks (outbox), the `invoice_finalized` signal and the PDF
tasks on commit. The caller runs it in a savepoint: a failure rolls all of it back.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from billing_project.core import metrics
from billing_project.core.bulk import insert_rows
from customers.entities import invoices_sections
from customers.models import BillingEntity, Organization
from invoicing.models import (
    Fee,
    FeeAppliedTax,
    Invoice,
    InvoiceAppliedTax,
    InvoiceStatus,
    InvoiceSubscription,
    NumberingScope,
)
from invoicing.services import lifecycle
from invoicing.services import totals as totals_mod
from invoicing.signals import invoice_finalized, invoices_finalized

BULK_SIZE = 1000


@dataclass
class Built:
    """One invoice built in memory (not saved): its fees, billing periods and computed totals."""

    invoice: Invoice
    fees: list[Fee]
    periods: list[InvoiceSubscription]
    computed: totals_mod.Computed


def _db_id(value: Any) -> Any:
    return value.hex if connection.vendor == "sqlite" else value


def _advance_customer_counters(organization: Organization, counts: Counter) -> dict[Any, int]:
    """Add `counts[customer]` to each customer's counter, created when missing; the new values.

    One upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING`) for the batch, rows in customer-id
    order; the rows stay locked until the commit. A customer's first invoice creates its counter
    at `counts[customer]` (was: an UPDATE finding nothing, a `bulk_create`, the UPDATE again: three
    statements and every new row written twice, measured in bench/RESULTS.md)."""
    if not counts:
        return {}
    now = timezone.now()
    table = "invoicing_invoicenumbercounter"
    ordered = list(counts)
    if connection.vendor == "postgresql":  # ids and increments as two arrays, as their text (`core.any_lookup`)
        source = (
            "SELECT gen_random_uuid(), u.customer_id, u.n FROM unnest(%s::uuid[], %s::bigint[]) AS u(customer_id, n)"
        )
        source_params: list[Any] = [
            "{" + ",".join(map(str, ordered)) + "}",
            "{" + ",".join(str(counts[cid]) for cid in ordered) + "}",
        ]
    else:
        source = "SELECT * FROM (VALUES " + ", ".join(["(%s, %s, %s)"] * len(ordered)) + ")"  # noqa: S608
        source_params = [v for cid in ordered for v in (uuid.uuid4().hex, _db_id(cid), counts[cid])]
    sql = (
        f"INSERT INTO {table} AS c (id, customer_id, last_value, created_at, updated_at, organization_id, "  # noqa: S608 - fixed fragments
        f"billing_entity_id, scope) SELECT s.*, %s, %s, %s, NULL, %s FROM ({source}) AS s WHERE true ORDER BY 2 "
        "ON CONFLICT (organization_id, customer_id) WHERE customer_id IS NOT NULL "
        "DO UPDATE SET last_value = c.last_value + excluded.last_value, updated_at = excluded.updated_at "
        "RETURNING customer_id, last_value"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, now, _db_id(organization.id), NumberingScope.CUSTOMER.value, *source_params])
        result = {_uuid(customer_id): int(last) for customer_id, last in cursor.fetchall()}
    if len(result) != len(counts):  # pragma: no cover - every row was inserted or updated
        raise RuntimeError("invoice number counter missing")
    return result


def _uuid(value: Any) -> Any:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _assign_billing_entities(invoices: list[Invoice]) -> None:
    """Each invoice is its customer's billing entity's (the organization's default entity for a
    customer row written without one: read once per organization of the batch)."""
    defaults: dict[Any, Any] = {}
    for invoice in invoices:
        if invoice.billing_entity_id is not None:
            continue
        customer = invoice.customer
        if customer.billing_entity_id is not None:
            invoice.billing_entity_id = customer.billing_entity_id
            continue
        if invoice.organization_id not in defaults:
            defaults[invoice.organization_id] = lifecycle.invoice_billing_entity(invoice)
        invoice.billing_entity = defaults[invoice.organization_id]


def _number(invoices: list[Invoice]) -> None:
    """Gapless numbers for finalized invoices, per customer and per organization (as `assign_number`).

    The customers' counters are advanced first and the organization's last: the organization's row
    is the one every batch of the organization needs, so `_write` takes it just before its last
    inserts and holds it for as short a time as possible (until the commit)."""
    by_org: dict[Any, list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        by_org[invoice.organization_id].append(invoice)
    for org_invoices in by_org.values():
        organization = org_invoices[0].organization
        counts = Counter(inv.customer_id for inv in org_invoices)
        last = _advance_customer_counters(organization, counts)
        next_customer = {cid: last[cid] - n + 1 for cid, n in counts.items()}
        for invoice in org_invoices:
            invoice.sequential_id = next_customer[invoice.customer_id]
            next_customer[invoice.customer_id] += 1


def _number_in_organization(invoices: list[Invoice]) -> None:
    """The entities' sequences (entities in id order) then the organization's, then the numbers
    (`lifecycle.format_number`): the lock order of `lifecycle.assign_number`."""
    by_org: dict[Any, list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        by_org[invoice.organization_id].append(invoice)
    for org_invoices in by_org.values():
        organization = org_invoices[0].organization
        by_entity: dict[Any, list[Invoice]] = defaultdict(list)  # every invoice has its entity here
        for invoice in org_invoices:
            by_entity[invoice.billing_entity_id].append(invoice)
        entities: dict[Any, BillingEntity] = {
            e.pk: e for e in BillingEntity.objects.filter(pk__in=list(by_entity)).defer("logo")
        }
        for entity_id in sorted(by_entity, key=str):
            entity_invoices = by_entity[entity_id]
            last = lifecycle.advance_counter(
                organization, count=len(entity_invoices), billing_entity=entities[entity_id]
            )
            for offset, invoice in enumerate(entity_invoices):
                invoice.billing_entity_sequential_id = last - len(entity_invoices) + 1 + offset
        next_org = lifecycle.advance_counter(organization, count=len(org_invoices)) - len(org_invoices) + 1
        for invoice in org_invoices:
            invoice.organization_sequential_id = next_org
            next_org += 1
            invoice.number = lifecycle.format_number(invoice, entities[invoice.billing_entity_id], invoice.customer)


def write(built: list[Built]) -> None:
    """Numbers and bulk inserts. The rows that point to an invoice go first (foreign keys are checked
    at the commit), the organization's number counter and the invoices themselves last."""
    if not built:
        return
    invoices = [b.invoice for b in built]
    finalized = [inv for inv in invoices if inv.status == InvoiceStatus.FINALIZED]
    _assign_billing_entities(invoices)
    _number(finalized)
    if finalized:
        now = timezone.now()
        sections = invoices_sections([(inv.customer, lifecycle.sections_chosen(inv)) for inv in finalized])
        for invoice, printed in zip(finalized, sections, strict=True):
            invoice.applied_invoice_custom_sections = lifecycle.sections_snapshot(printed, now)
    # A period already invoiced violates the unique constraint here: the caller's savepoint rolls back.
    insert_rows(InvoiceSubscription, [row for b in built for row in b.periods], batch_size=BULK_SIZE)
    insert_rows(Fee, [fee for b in built for fee in b.fees], batch_size=BULK_SIZE)  # the costliest rows
    insert_rows(FeeAppliedTax, [t for b in built for t in b.computed.fee_taxes], batch_size=BULK_SIZE)
    insert_rows(InvoiceAppliedTax, [t for b in built for t in b.computed.invoice_taxes], batch_size=BULK_SIZE)
    _number_in_organization(finalized)
    insert_rows(Invoice, invoices, batch_size=BULK_SIZE)  # announced with `bulk_created`: the audit trail
    notify(finalized, [inv for inv in invoices if inv.status == InvoiceStatus.DRAFT])
    statuses = Counter(inv.status for inv in invoices if inv.status != InvoiceStatus.DRAFT)

    def count() -> None:
        for status, n in statuses.items():
            metrics.invoice_generated(status, n)

    transaction.on_commit(count)


def notify(finalized: list[Invoice], drafts: list[Invoice]) -> None:
    """`invoice.created` / `invoice.drafted` (outbox) when an endpoint wants them, the
    `invoice_finalized` signal (payments), one PDF task for the finalized invoices, and one
    `invoices_finalized` signal per organization (UCP)."""
    from webhooks.models import WebhookEndpoint

    wanted: dict[tuple[Any, str], bool] = {}

    def send(invoice: Invoice, webhook_type: str) -> None:
        key = (invoice.organization_id, webhook_type)
        if key not in wanted:
            endpoints = WebhookEndpoint.objects.filter(organization_id=key[0]).only("id", "event_types")
            wanted[key] = any(e.accepts(webhook_type) for e in endpoints)
        if wanted[key]:
            lifecycle.send_invoice_webhook(invoice, webhook_type)

    by_org: dict[Any, list[Invoice]] = defaultdict(list)
    for invoice in finalized:
        send(invoice, "invoice.created")
        invoice_finalized.send(sender=Invoice, invoice=invoice, organization=invoice.organization)
        by_org[invoice.organization_id].append(invoice)
    lifecycle.enqueue_pdfs(finalized)  # one task for the batch's PDFs
    for org_invoices in by_org.values():
        invoices_finalized.send(sender=Invoice, invoices=org_invoices, organization=org_invoices[0].organization)
    for invoice in drafts:
        send(invoice, "invoice.drafted")
