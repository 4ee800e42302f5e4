"""The credit note PDF, rendered like invoices (`invoicing.pdf`) and stored under MEDIA_ROOT."""

from __future__ import annotations

from uuid import UUID

from invoicing.credits.models import CreditNote
from invoicing.pdf import CreditNoteDocument, DocumentLine, document_taxes, render_credit_note_pdf
from invoicing.services.documents import _party, pdf_store
from invoicing.services.lifecycle import invoice_billing_entity


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
            DocumentLine(description=item.fee.invoice_display_name or item.fee.fee_type, amount_cents=item.amount_cents)
            for item in note.items.select_related("fee").order_by("created_at", "id")
        ),
        taxes=document_taxes(note.applied_taxes.all(), "base_amount_cents"),
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
    note = (
        CreditNote.objects.select_related("organization", "customer__organization", "invoice")
        .filter(id=credit_note_id)
        .first()
    )
    if note is None:
        return None
    if note.file and not force:
        return note
    return pdf_store(note, render_credit_note_pdf(credit_note_document(note)), force=force)
