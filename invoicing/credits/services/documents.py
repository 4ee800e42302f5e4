"""The credit note PDF, rendered like invoices (`invoicing.pdf`) and stored under MEDIA_ROOT.

The `invoicing.credit_note_generate_pdf` task runs `credit_note_generate_pdf` once per credit note,
so its reads are compiled once per process (`billing_project.core.prepared.PreparedQuery`), as the
invoice PDF's are (`invoicing.services.documents`): the note with its customer, its invoice and the
billing entities `invoice_billing_entity` picks from, its items' printed columns and its taxes.
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from django.db.models import UUIDField

from billing_project.core.prepared import PreparedQuery
from invoicing.credits.models import CreditNote, CreditNoteAppliedTax, CreditNoteItem
from invoicing.pdf import CreditNoteDocument, DocumentLine, document_taxes, render_credit_note_pdf
from invoicing.services.documents import _party, pdf_store
from invoicing.services.lifecycle import invoice_billing_entity

# The note with what heads its document: its customer, and its invoice with the invoice's customer
# (its organization, for the default entity of a customer written without one) and billing entities.
_NOTE = PreparedQuery(
    lambda p: (
        CreditNote.objects.select_related(
            "organization",
            "customer__organization",
            "invoice__customer__organization",
            "invoice__customer__billing_entity",
            "invoice__billing_entity",
        )
        .filter(id=p.id)
        .order_by()[:1]
    ),
    id=uuid.UUID,
)
# What the document prints of each item, in the note's order of items (`CreditNoteItem.Meta.ordering`).
_ITEMS = PreparedQuery(
    lambda p: (
        CreditNoteItem.objects.filter(credit_note_id=p.note)
        .order_by("created_at", "id")
        .values_list("fee__invoice_display_name", "fee__fee_type", "amount_cents")
    ),
    note=uuid.UUID,
)
_TAXES = PreparedQuery(
    lambda p: (
        CreditNoteAppliedTax.objects.filter(credit_note_id=p.note)
        .order_by("created_at", "id")  # `AppliedTaxBase.Meta.ordering`, as `note.applied_taxes.all()`
        .only("tax_code", "tax_name", "tax_rate", "base_amount_cents", "amount_cents")
    ),
    note=uuid.UUID,
)
_UUID: UUIDField[Any, Any] = UUIDField()


def credit_note_document(note: CreditNote) -> CreditNoteDocument:
    entity = invoice_billing_entity(note.invoice)  # the credited invoice's: its legal identity heads the note
    customer = note.customer
    return CreditNoteDocument(
        number=note.number,
        invoice_number=note.invoice.number,
        issuing_date=note.issuing_date,
        currency=note.currency,
        organization=_party(entity, name=entity.name),
        customer=_party(customer, name=customer.name or customer.external_id),
        lines=tuple(
            DocumentLine(description=display_name or fee_type, amount_cents=amount_cents)
            for display_name, fee_type, amount_cents in _ITEMS.fetch(note=note.id)
        ),
        taxes=document_taxes(_TAXES.fetch(note=note.id), "base_amount_cents"),
        sub_total_excluding_taxes_amount_cents=note.sub_total_excluding_taxes_amount_cents,
        taxes_amount_cents=note.taxes_amount_cents,
        total_amount_cents=note.total_amount_cents,
        coupons_adjustment_amount_cents=note.coupons_adjustment_amount_cents,
        credit_amount_cents=note.credit_amount_cents,
        refund_amount_cents=note.refund_amount_cents,
        offset_amount_cents=note.offset_amount_cents,
        reason=note.reason,
        description=note.description,
        footer=entity.invoice_footer or "",
    )


def credit_note_generate_pdf(credit_note_id: UUID | str, *, force: bool = False) -> CreditNote | None:
    """Render and store the PDF; idempotent unless `force`."""
    # Django's own conversion of the id (a malformed one is refused as the ORM's lookup refused it)
    [note] = _NOTE.fetch(id=_UUID.to_python(credit_note_id)) or [None]
    if note is None:
        return None
    if note.file and not force:
        return note
    return pdf_store(note, render_credit_note_pdf(credit_note_document(note)), force=force)
