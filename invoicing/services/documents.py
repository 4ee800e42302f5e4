"""The invoice PDF: built from the frozen rows with `invoicing.pdf`, stored under MEDIA_ROOT.

The `invoicing.generate_pdf` task runs `invoice_generate_pdf` once per finalized invoice, so its
reads are compiled once per process (`billing_project.core.prepared.PreparedQuery`): the invoice
with its customer and billing entities, its fees' printed columns, its billing periods, its taxes,
and the row locked to store the file. Measured (bench/pdf.py --invoices, 2026-12-07, load 10): building
and compiling those querysets through the ORM cost about 9 of the task's 16 CPU-ms, the renderer 5.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing_project.core.prepared import PreparedQuery
from billing_project.core.rowimages import remember_locked_row
from invoicing.models import Fee, Invoice, InvoiceAppliedTax, InvoiceStatus, InvoiceSubscription
from invoicing.pdf import DocumentLine, InvoiceDocument, Party, document_taxes, render_invoice_pdf
from invoicing.services import lifecycle
from subscriptions import periods

logger = logging.getLogger(__name__)

# The invoice with what heads its document: the customer (and its organization, for the default
# entity of a customer written without one) and the billing entities `invoice_billing_entity` picks from.
_INVOICE = PreparedQuery(
    lambda p: (
        Invoice.objects.select_related("customer__organization", "customer__billing_entity", "billing_entity")
        .filter(id=p.id)
        .order_by()[:1]
    ),
    id=uuid.UUID,
)
# What the document prints of each fee, in the invoice's order of fees.
_FEE_COLUMNS = (
    "invoice_display_name", "fee_type", "amount_cents", "units", "precise_unit_amount", "taxes_rate", "properties",
    "grouped_by",
)  # fmt: skip
_FEES = PreparedQuery(
    lambda p: Fee.objects.filter(invoice_id=p.invoice).order_by("created_at", "id").values_list(*_FEE_COLUMNS),
    invoice=uuid.UUID,
)
_PERIODS = PreparedQuery(
    lambda p: InvoiceSubscription.objects.filter(invoice_id=p.invoice).values_list("from_datetime", "to_datetime"),
    invoice=uuid.UUID,
)
_TAXES = PreparedQuery(
    lambda p: (
        InvoiceAppliedTax.objects.filter(invoice_id=p.invoice)
        .order_by("created_at", "id")
        .only("tax_code", "tax_name", "tax_rate", "fees_amount_cents", "amount_cents")
    ),
    invoice=uuid.UUID,
)


def _party(obj: Any, *, name: str) -> Party:
    lines = [
        obj.address_line1,
        obj.address_line2,
        " ".join(p for p in (obj.zipcode, obj.city) if p),
        obj.state,
        obj.country,
    ]
    return Party(
        name=name,
        legal_name=obj.legal_name or "",
        address_lines=tuple(line for line in lines if line),
        email=(obj.email or "").split(",")[0],
        tax_identification_number=obj.tax_identification_number or "",
        legal_number=obj.legal_number or "",
        external_id=getattr(obj, "external_id", ""),
    )


def invoice_document(invoice: Invoice) -> InvoiceDocument:
    customer = invoice.customer
    # The entity that bills: its legal name, address, tax id and footer head the document.
    entity = lifecycle.invoice_billing_entity(invoice)
    tz_name = customer.applicable_timezone
    lines = []
    for name, fee_type, amount_cents, units, unit_amount, taxes_rate, properties, grouped_by in _FEES.fetch(
        invoice=invoice.id
    ):
        props = properties or {}
        start = props.get("from_datetime") or props.get("charges_from_datetime")
        end = props.get("to_datetime") or props.get("charges_to_datetime")
        period_from = period_to = None
        try:
            if start and end:
                s, e = datetime.fromisoformat(start), datetime.fromisoformat(end)
                period_from = periods.local_date(s, tz_name)
                period_to = periods.local_date(e - periods.ONE_SECOND, tz_name) if e > s else period_from
        except (TypeError, ValueError):
            pass
        details: list[str] = []
        if grouped_by:
            details.append(", ".join(f"{k}: {v}" for k, v in grouped_by.items()))
        if props.get("filter_values"):
            details.append(", ".join(f"{k}: {'/'.join(v)}" for k, v in props["filter_values"].items()))
        lines.append(
            DocumentLine(
                description=name or fee_type,
                amount_cents=amount_cents,
                units=units,
                unit_amount=unit_amount,
                taxes_rate=taxes_rate,
                period_from=period_from,
                period_to=period_to,
                details=tuple(details),
            )
        )
    periods_rows = _PERIODS.fetch(invoice=invoice.id)
    billing_from = min((start for start, _ in periods_rows), default=None)
    billing_to = max((end for _, end in periods_rows), default=None)
    return InvoiceDocument(
        number=invoice.number,
        issuing_date=invoice.issuing_date,
        currency=invoice.currency,
        organization=_party(entity, name=entity.name),
        customer=_party(customer, name=customer.name or customer.external_id),
        lines=tuple(lines),
        taxes=document_taxes(_TAXES.fetch(invoice=invoice.id), "fees_amount_cents"),
        fees_amount_cents=invoice.fees_amount_cents,
        coupons_amount_cents=invoice.coupons_amount_cents,
        progressive_billing_credit_amount_cents=invoice.progressive_billing_credit_amount_cents,
        sub_total_excluding_taxes_amount_cents=invoice.sub_total_excluding_taxes_amount_cents,
        taxes_amount_cents=invoice.taxes_amount_cents,
        sub_total_including_taxes_amount_cents=invoice.sub_total_including_taxes_amount_cents,
        credit_notes_amount_cents=invoice.credit_notes_amount_cents,
        prepaid_credit_amount_cents=invoice.prepaid_credit_amount_cents,
        total_amount_cents=invoice.total_amount_cents,
        payment_due_date=invoice.payment_due_date,
        net_payment_term=invoice.net_payment_term,
        billing_period_from=periods.local_date(billing_from, tz_name) if billing_from else None,
        billing_period_to=periods.local_date(billing_to - periods.ONE_SECOND, tz_name) if billing_to else None,
        invoice_type=invoice.invoice_type,
        status=invoice.status,
        purchase_order_number=invoice.purchase_order_number,
        footer=entity.invoice_footer or "",
        sections=tuple((s["display_name"], s["details"]) for s in invoice.applied_invoice_custom_sections or []),
    )


def invoice_for_document(invoice_id: UUID | str) -> Invoice | None:
    """The invoice as `invoice_document` reads it (customer and billing entities joined), or None."""
    try:
        key = invoice_id if isinstance(invoice_id, UUID) else uuid.UUID(str(invoice_id))
    except ValueError:
        return None
    return next(iter(_INVOICE.fetch(id=key)), None)


def invoice_generate_pdf(invoice_id: UUID | str, *, force: bool = False) -> Invoice | None:
    """Render and store the PDF of a finalized (or voided) invoice; idempotent unless `force`."""
    invoice = invoice_for_document(invoice_id)
    if invoice is None or invoice.status not in (InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED):
        return None
    if invoice.file and not force:
        return invoice
    return pdf_store(invoice, render_invoice_pdf(invoice_document(invoice)), force=force)


def invoices_generate_pdfs(invoice_ids: Sequence[UUID | str]) -> int:
    """`invoice_generate_pdf` for each of these invoices, one after the other (a billed batch's, in
    one task): one that fails is logged and left to the missing-PDF sweeper, the others are made.
    Returns how many have their PDF."""
    done = 0
    for invoice_id in invoice_ids:
        try:
            done += invoice_generate_pdf(invoice_id) is not None
        except Exception:  # one invoice's PDF must not cost the others theirs
            logger.exception("invoice PDF failed; the sweeper will retry it", extra={"invoice_id": str(invoice_id)})
    return done


def pdf_store(row: Any, content: bytes, *, force: bool) -> Any:
    """Store `content` as the PDF file of `row` (an invoice, a credit note, a payment receipt), named
    after its number (its id while it has none), and return the row as stored. The row is locked and
    read again first: when it has a file by then (another rendering stored it) that file stays,
    unless `force`. `file_generated_at` is set on the models that have it. The locked read is the
    audit trail's before-image (`remember_locked_row`): the recorder does not read the row again."""
    model = type(row)
    with transaction.atomic():
        locked = next(iter(_locked_query(model).fetch(id=row.id)), None)
        if locked is None:
            raise model.DoesNotExist(f"{model.__name__} {row.id} is gone")
        if locked.file and not force:
            return locked
        remember_locked_row(locked)
        locked.file.save(f"{locked.number or locked.id}.pdf", ContentFile(content), save=False)
        fields = ["file", "updated_at"]
        if hasattr(locked, "file_generated_at"):
            locked.file_generated_at = timezone.now()
            fields.append("file_generated_at")
        locked.save(update_fields=fields)
    return locked


# The locked read of `pdf_store`, compiled once per model it stores files of (invoices, credit
# notes, payment receipts: three entries at most, SQL text only).
_LOCKED_READS: dict[type, PreparedQuery] = {}


def _locked_query(model: Any) -> PreparedQuery:
    query = _LOCKED_READS.get(model)
    if query is None:
        query = _LOCKED_READS[model] = PreparedQuery(
            lambda p: model._default_manager.select_for_update().filter(id=p.id).order_by(), id=uuid.UUID
        )
    return query


# --- the missing-PDF sweeper -----------------------------------------------------------------------

# A PDF is rendered by a task enqueued on commit; the sweeper leaves an invoice this long to its task
# before rendering it itself (a task waiting in a busy queue is not a lost one).
PDF_GRACE = dt.timedelta(minutes=10)
PDF_SWEEP_LIMIT = 1000


@dataclass(frozen=True)
class MissingPdfs:
    invoices: list[Any]
    credit_notes: list[Any]

    def __len__(self) -> int:
        return len(self.invoices) + len(self.credit_notes)


def documents_missing_pdf(
    *, now: dt.datetime | None = None, organization: Any = None, limit: int = PDF_SWEEP_LIMIT, grace: Any = PDF_GRACE
) -> MissingPdfs:
    """Finalized (or voided) invoices and credit notes without a PDF, issued more than `grace` ago,
    oldest first, at most `limit` of each: their task was lost (a worker killed, a broker restarted
    without persistence) or failed. Nothing when PDFs are off (`INVOICE_PDF_ON_FINALIZE`)."""
    from django.conf import settings

    from invoicing.credits.models import CreditNote

    if not getattr(settings, "INVOICE_PDF_ON_FINALIZE", True):
        return MissingPdfs([], [])
    cutoff = (now or timezone.now()) - grace
    invoices = Invoice.objects.filter(status__in=[InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED], file="").filter(
        Q(finalized_at__lt=cutoff) | Q(finalized_at__isnull=True, updated_at__lt=cutoff)
    )
    notes = CreditNote.objects.filter(file="", created_at__lt=cutoff)
    if organization is not None:
        invoices, notes = invoices.filter(organization=organization), notes.filter(organization=organization)
    return MissingPdfs(
        invoices=list(invoices.order_by("finalized_at", "id").values_list("id", flat=True)[:limit]),
        credit_notes=list(notes.order_by("created_at", "id").values_list("id", flat=True)[:limit]),
    )
