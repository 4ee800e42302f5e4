"""Invoice lifecycle: draft → finalized → voided, numbering, refresh, payment status, overdue.

Each service owns its transaction, locks the invoice row, and writes Lago's webhook to the
outbox in the same transaction. A finalized invoice's money never changes again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing_project.core import metrics
from billing_project.core.bulk import new_row
from billing_project.core.errors import NotAllowedFailure, NotFoundFailure, ValidationFailure
from billing_project.core.found import found
from catalog.models import Plan
from customers.entities import customer_billing_entity, invoices_sections
from customers.models import BillingEntity, Customer, EntityDocumentNumbering, Organization
from customers.section_choice import InvoiceSections
from invoicing.calculation import Context
from invoicing.credits.services import invoices as credits
from invoicing.models import (
    HIDDEN_STATUSES,
    Fee,
    FeeAppliedTax,
    Invoice,
    InvoiceAppliedTax,
    InvoiceNumberCounter,
    InvoiceStatus,
    NumberingScope,
    PaymentStatus,
)
from invoicing.services import totals as totals_mod
from invoicing.signals import invoice_finalized, invoices_finalized
from subscriptions import periods
from webhooks.services import webhook_send

FEE_UPDATE_FIELDS = [
    "precise_coupons_amount_cents",
    "taxes_amount_cents",
    "taxes_precise_amount_cents",
    "taxes_rate",
]
TOTAL_FIELDS = [
    "fees_amount_cents",
    "coupons_amount_cents",
    "progressive_billing_credit_amount_cents",
    "sub_total_excluding_taxes_amount_cents",
    "taxes_amount_cents",
    "taxes_rate",
    "sub_total_including_taxes_amount_cents",
    "credit_notes_amount_cents",
    "prepaid_credit_amount_cents",
    "total_amount_cents",
    "credits",
]


def document_prefix(organization: Organization) -> str:
    """§6.3: the organization's prefix, else the first 3 letters of its name + the id's last 4."""
    if organization.document_number_prefix:
        return organization.document_number_prefix
    letters = "".join(ch for ch in organization.name if ch.isalnum())[:3].upper() or "INV"
    return f"{letters}-{str(organization.id).replace('-', '')[-4:].upper()}"


def draft_number(organization: Organization) -> str:
    return f"{document_prefix(organization)}-DRAFT"


_COUNTER_ROW = {
    NumberingScope.CUSTOMER: "customer_id = %s",
    NumberingScope.BILLING_ENTITY: "billing_entity_id = %s",
    NumberingScope.ORGANIZATION: "customer_id IS NULL AND billing_entity_id IS NULL",
}


def advance_counter(
    organization: Organization,
    *,
    count: int = 1,
    customer: Customer | None = None,
    billing_entity: BillingEntity | None = None,
) -> int:
    """Add `count` to one counter (the customer's, the billing entity's, else the organization's),
    created when missing, in one `UPDATE … RETURNING`; its new value. The row stays locked until
    the commit, so numbers are unique and gapless. Callers lock in the order customer, entity,
    organization (`assign_number`, `invoicing.billing.writer`), so two finalizations never deadlock."""
    from django.db import connection

    def db_id(value: Any) -> Any:
        return value.hex if connection.vendor == "sqlite" else value

    if customer is not None:
        scope, owner = NumberingScope.CUSTOMER, [db_id(customer.id)]
    elif billing_entity is not None:
        scope, owner = NumberingScope.BILLING_ENTITY, [db_id(billing_entity.id)]
    else:
        scope, owner = NumberingScope.ORGANIZATION, []
    sql = (
        "UPDATE invoicing_invoicenumbercounter SET last_value = last_value + %s, updated_at = %s "  # noqa: S608 - fixed fragments
        f"WHERE organization_id = %s AND {_COUNTER_ROW[scope]} RETURNING last_value"
    )
    params = [count, timezone.now(), db_id(organization.id), *owner]
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        try:
            with transaction.atomic():
                InvoiceNumberCounter.objects.create(
                    organization=organization, customer=customer, billing_entity=billing_entity, scope=scope
                )
        except IntegrityError:
            pass  # another finalization created it first; the UPDATE now waits for its lock
    raise RuntimeError("invoice number counter missing")  # pragma: no cover


def invoice_billing_entity(invoice: Invoice) -> BillingEntity:
    """The entity that bills the invoice: its own once written, else its customer's."""
    if invoice.billing_entity_id is not None and invoice.billing_entity_id != invoice.customer.billing_entity_id:
        return invoice.billing_entity  # type: ignore[return-value]
    return customer_billing_entity(invoice.customer)  # loaded with the customer where it is read in bulk


def format_number(invoice: Invoice, entity: BillingEntity, customer: Customer) -> str:
    """docs/billing-semantics.md §6.3, per the entity's numbering: `PREFIX-YYYYMM-SEQ` on the
    entity's sequence (`per_billing_entity`), else `PREFIX-CUSTOMER-SEQ` on the customer's."""
    prefix = entity.document_number_prefix or document_prefix(invoice.organization)
    if entity.document_numbering == EntityDocumentNumbering.PER_BILLING_ENTITY:
        return f"{prefix}-{invoice.issuing_date:%Y%m}-{invoice.billing_entity_sequential_id:03d}"
    return f"{prefix}-{customer.sequential_id:03d}-{invoice.sequential_id:03d}"


def sections_snapshot(sections: list[Any], now: dt.datetime) -> list[dict[str, Any]]:
    """The invoice's copy of its custom sections (docs/billing-entities.md §4): what they read at
    finalization, whatever they become."""
    import uuid

    return [
        {
            "lago_id": str(uuid.uuid4()),
            "code": section.code,
            "display_name": section.display_name or section.name,
            "details": section.details,
            "created_at": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for section in sections
    ]


def assign_number(invoice: Invoice) -> None:
    """Gapless numbers from locked counters: per customer, per billing entity and per organization
    (all kept); the number follows the invoice's entity's numbering (docs/billing-entities.md)."""
    organization = invoice.organization
    customer = invoice.customer
    entity = invoice_billing_entity(invoice)
    invoice.billing_entity = entity
    invoice.sequential_id = advance_counter(organization, customer=customer)
    invoice.billing_entity_sequential_id = advance_counter(organization, billing_entity=entity)
    invoice.organization_sequential_id = advance_counter(organization)
    invoice.number = format_number(invoice, entity, customer)
    [printed] = invoices_sections([(customer, sections_chosen(invoice))])
    invoice.applied_invoice_custom_sections = sections_snapshot(printed, timezone.now())


def sections_chosen(invoice: Invoice) -> InvoiceSections:
    """What was decided for the invoice's sections when it was created."""
    return InvoiceSections(
        section_ids=tuple(str(value) for value in invoice.invoice_custom_section_ids or ()),
        with_customer=bool(invoice.with_customer_sections),
    )


def skip_zero_amount(customer: Customer) -> bool:
    return not customer.applicable_finalize_zero_amount_invoice


def customer_locked(organization: Organization, external_id: str | None) -> Customer:
    """The organization's live customer with this external id, locked for the caller's transaction
    (404 `customer_not_found`)."""
    customers = Customer.objects.select_for_update(of=("self",)).select_related("organization")
    return found(
        customers.filter(organization=organization, external_id=external_id, deleted_at__isnull=True).first(),
        "customer",
    )


def local_today(customer: Customer, now: dt.datetime) -> dt.date:
    return periods.local_date(now, customer.applicable_timezone)


def invoice_new(
    organization: Organization,
    customer: Customer,
    invoice_type: str,
    currency: str,
    issuing_date: dt.date,
    **fields: Any,
) -> Invoice:
    """An unsaved invoice of `customer` issued on `issuing_date` and due the customer's net payment
    term later (`net_payment_term` kept on the invoice): how every invoice starts."""
    net_term = customer.applicable_net_payment_term
    return new_row(  # `Invoice(...)`'s instance, built for less (a billing batch builds hundreds)
        Invoice,
        organization=organization,
        customer=customer,
        invoice_type=invoice_type,
        currency=currency,
        issuing_date=issuing_date,
        payment_due_date=issuing_date + dt.timedelta(days=net_term),
        net_payment_term=net_term,
        **fields,
    )


def send_invoice_webhook(invoice: Invoice, webhook_type: str) -> None:
    from invoicing.representation import invoice_payload

    webhook_send(
        invoice.organization,
        webhook_type=webhook_type,
        object_type="invoice",
        payload=lambda: invoice_payload(invoice, with_fees=True),
    )


def _save_and_send(invoice: Invoice, webhook_type: str, **values: Any) -> None:
    """Set `values` on the invoice, save those columns (and `updated_at`), then send `webhook_type`."""
    for name, value in values.items():
        setattr(invoice, name, value)
    invoice.save(update_fields=[*values, "updated_at"])
    send_invoice_webhook(invoice, webhook_type)


def enqueue_pdf(invoice: Invoice) -> None:
    """The PDF is rendered by a task after the commit (`INVOICE_PDF_ON_FINALIZE`, default on)."""
    from django.conf import settings

    from invoicing import tasks

    if not getattr(settings, "INVOICE_PDF_ON_FINALIZE", True):
        return

    invoice_id = str(invoice.id)
    transaction.on_commit(lambda: tasks.invoice_generate_pdf.delay(invoice_id))


def enqueue_pdfs(invoices: Collection[Invoice]) -> None:
    """The PDFs of invoices finalized together (a billed batch): one task after the commit."""
    from django.conf import settings

    from invoicing import tasks

    if not invoices or not getattr(settings, "INVOICE_PDF_ON_FINALIZE", True):
        return

    invoice_ids = [str(invoice.id) for invoice in invoices]
    transaction.on_commit(lambda: tasks.invoices_generate_pdfs.delay(invoice_ids))


def finalize_in_place(
    invoice: Invoice,
    fees: list[Fee],
    taxes: dict,
    *,
    now: dt.datetime,
    plan_ids: dict,
    periods: list[Any] | None = None,
    paid: bool = False,
    progressive: Collection[Any] | None = None,
) -> None:
    """Apply coupons and taxes at finalization, number the invoice and send `invoice.created`.

    The invoice row is locked (or new) and `fees` are its fees; saved or not is up to the caller
    (`invoice._state.adding`). `paid`: the fees were paid already (regrouped paid fees): the
    invoice is `succeeded` with its total paid. `progressive`: see `totals.compute`.
    """
    computed = totals_mod.compute(
        invoice, fees, taxes, context=Context.FINALIZE, plan_ids=plan_ids, progressive=progressive
    )
    customer = invoice.customer
    invoice.payment_status = (
        PaymentStatus.PENDING if computed.totals.total_amount_cents > 0 and not paid else PaymentStatus.SUCCEEDED
    )
    if paid:
        invoice.total_paid_amount_cents = computed.totals.total_amount_cents
    invoice.finalized_at = now
    invoice.finalize_at = None
    if computed.totals.fees_amount_cents == 0 and skip_zero_amount(customer):
        invoice.status = InvoiceStatus.CLOSED
    else:
        invoice.status = InvoiceStatus.FINALIZED
        assign_number(invoice)  # locked counters: gapless, and rolled back with everything else
    _persist(invoice, fees, computed, periods=periods)
    if computed.totals.coupon_credits:
        totals_mod.write_coupon_credits(computed, now)
    credits.consume_for_invoice(invoice, computed, now=now)
    if invoice.status == InvoiceStatus.FINALIZED:
        send_invoice_webhook(invoice, "invoice.created")
        enqueue_pdf(invoice)
        invoice_finalized.send(sender=Invoice, invoice=invoice, organization=invoice.organization)
        invoices_finalized.send(sender=Invoice, invoices=[invoice], organization=invoice.organization)
    transaction.on_commit(lambda status=invoice.status: metrics.invoice_generated(status))


def save_draft(
    invoice: Invoice,
    fees: list[Fee],
    taxes: dict,
    *,
    plan_ids: dict,
    periods: list[Any] | None = None,
    progressive: Collection[Any] | None = None,
) -> None:
    computed = totals_mod.compute(
        invoice, fees, taxes, context=Context.DRAFT, plan_ids=plan_ids, progressive=progressive
    )
    invoice.status = InvoiceStatus.DRAFT
    invoice.number = draft_number(invoice.organization)
    invoice.payment_status = PaymentStatus.PENDING
    _persist(invoice, fees, computed, periods=periods)


def _persist(
    invoice: Invoice, fees: list[Fee], computed: totals_mod.Computed, *, periods: list[Any] | None = None
) -> None:
    """One INSERT (or UPDATE) of the invoice, then its billing periods, fees and taxes in bulk."""
    was_new = invoice._state.adding
    invoice.save()
    if periods:
        from invoicing.models import InvoiceSubscription

        for row in periods:
            row.invoice_id = invoice.id
        # A period already invoiced violates the unique constraint here: everything rolls back.
        InvoiceSubscription.objects.bulk_create(periods)
    new = [f for f in fees if f._state.adding]
    old = [f for f in fees if not f._state.adding]
    for fee in new:
        fee.invoice = invoice
    if old:
        Fee.objects.bulk_update(old, FEE_UPDATE_FIELDS)
        FeeAppliedTax.objects.filter(fee__invoice=invoice).delete()
    if not was_new:
        InvoiceAppliedTax.objects.filter(invoice=invoice).delete()
    if new:
        Fee.objects.bulk_create(new)
    FeeAppliedTax.objects.bulk_create(computed.fee_taxes)
    InvoiceAppliedTax.objects.bulk_create(computed.invoice_taxes)


def _locked(organization: Organization, invoice_id: UUID | str) -> Invoice:
    return found(
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organization", "customer__organization")
        .filter(organization=organization, id=invoice_id)
        .exclude(status__in=HIDDEN_STATUSES)
        .first(),
        "invoice",
    )


def _fees_with_taxes(invoice: Invoice) -> tuple[list[Fee], dict, dict]:
    fees = list(
        invoice.fees.select_related("charge__billable_metric", "subscription__plan").order_by("created_at", "id")
    )
    taxes = totals_mod.snapshots_from_rows(fees)
    plan_ids = {f.id: _plan_key(f.subscription.plan) if f.subscription_id else None for f in fees}
    return fees, taxes, plan_ids


def _plan_key(plan: Plan) -> str:
    return str(plan.parent_id or plan.id)


def invoice_finalize(organization: Organization, *, invoice_id: UUID | str, now: dt.datetime | None = None) -> Invoice:
    """Finalize a draft (`PUT /invoices/{id}/finalize`, the grace-period job). Only drafts."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = _locked(organization, invoice_id)
        if invoice.status != InvoiceStatus.DRAFT:
            raise NotFoundFailure("invoice")  # Lago answers 404 for anything but a draft
        _finalize_locked(invoice, now=now)
    return invoice


def _finalize_locked(invoice: Invoice, *, now: dt.datetime) -> None:
    """Finalize a locked draft (or failed) invoice: its fees rebuilt with the usage known now, issued today."""
    _refresh_fees(invoice, now=now)
    fees, taxes, plan_ids = _fees_with_taxes(invoice)
    invoice.issuing_date = local_today(invoice.customer, now)
    invoice.payment_due_date = invoice.issuing_date + dt.timedelta(days=invoice.net_payment_term)
    finalize_in_place(invoice, fees, taxes, now=now, plan_ids=plan_ids)


def invoice_retry(organization: Organization, *, invoice_id: UUID | str, now: dt.datetime | None = None) -> Invoice:
    """`POST /invoices/{id}/retry`: finalize again an invoice whose generation failed; anything else
    is 405 `invalid_status`. (bxb's billing leaves no invoice `failed`: a failure rolls the whole
    customer back and the next run bills it again, docs/invoicing.md §4.)"""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = _locked(organization, invoice_id)
        if invoice.status != InvoiceStatus.FAILED:
            raise NotAllowedFailure("invalid_status")
        _finalize_locked(invoice, now=now)
    return invoice


def invoice_delete(organization: Organization, *, invoice_id: UUID | str, now: dt.datetime | None = None) -> Invoice:
    """`DELETE /invoices/{id}`: a draft only (else 405 `not_deletable`). It becomes `deleted`: never
    listed or found again, nothing of it is due, and its billing periods stay taken, so the billing
    run does not bill them again (Lago's behaviour). Coupons and credits are consumed only at
    finalization, so a draft gives nothing back. Sends `invoice.deleted`."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = _locked(organization, invoice_id)
        if invoice.status != InvoiceStatus.DRAFT:
            raise NotAllowedFailure("not_deletable")
        _save_and_send(invoice, "invoice.deleted", status=InvoiceStatus.DELETED, finalize_at=None)
    return invoice


def invoice_dispute_lost(invoice: Invoice, *, now: dt.datetime) -> bool:
    """Record on a locked finalized or voided invoice that a payment dispute was lost (once; no
    longer overdue) and send `invoice.payment_dispute_lost`. False when it was already recorded."""
    if invoice.payment_dispute_lost_at is not None:
        return False
    _save_and_send(invoice, "invoice.payment_dispute_lost", payment_dispute_lost_at=now, payment_overdue=False)
    return True


def invoice_lose_dispute(
    organization: Organization, *, invoice_id: UUID | str, now: dt.datetime | None = None
) -> Invoice:
    """`POST /invoices/{id}/lose_dispute`: a finalized or voided invoice's payment dispute is lost
    (else 405 `not_disputable`). Calling it again changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = _locked(organization, invoice_id)
        if invoice.status not in (InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED):
            raise NotAllowedFailure("not_disputable")
        invoice_dispute_lost(invoice, now=now)
    return invoice


def _refresh_fees(invoice: Invoice, *, now: dt.datetime) -> None:
    """Rebuild a draft's fees from its billing periods with the usage known now."""
    from invoicing.billing.run import rebuild_invoice_fees

    rebuild_invoice_fees(invoice)


def invoice_refresh(organization: Organization, *, invoice_id: UUID | str, now: dt.datetime | None = None) -> Invoice:
    """Recompute a draft with the events that arrived since (`PUT /invoices/{id}/refresh`).

    Refreshing anything but a draft changes nothing (Lago returns the invoice as it is).
    """
    now = now or timezone.now()
    with transaction.atomic():
        invoice = _locked(organization, invoice_id)
        if invoice.status != InvoiceStatus.DRAFT:
            return invoice
        _refresh_fees(invoice, now=now)
        fees, taxes, plan_ids = _fees_with_taxes(invoice)
        save_draft(invoice, fees, taxes, plan_ids=plan_ids)
    return invoice


def invoice_void(organization: Organization, *, invoice_id: UUID | str, now: dt.datetime | None = None) -> Invoice:
    """§6.7: only a finalized invoice; coupon credits are given back; nothing is due any more."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = _locked(organization, invoice_id)
        if invoice.status != InvoiceStatus.FINALIZED or invoice.payment_dispute_lost_at is not None:
            raise NotAllowedFailure("not_voidable")
        invoice.status = InvoiceStatus.VOIDED
        invoice.voided_at = now
        invoice.payment_overdue = False
        invoice.save(update_fields=["status", "voided_at", "payment_overdue", "updated_at"])
        totals_mod.give_back_coupon_credits(invoice)
        credits.restore_for_voided_invoice(invoice, now=now)
        send_invoice_webhook(invoice, "invoice.voided")
    return invoice


def invoice_update(
    organization: Organization,
    *,
    invoice_id: UUID | str,
    payment_status: str | None = None,
    metadata: list[dict[str, Any]] | None = None,
    now: dt.datetime | None = None,
) -> Invoice:
    """`PUT /invoices/{id}`: payment status for manual flows and metadata (upsert by id or key)."""
    now = now or timezone.now()
    if payment_status is not None and payment_status not in PaymentStatus.values:
        raise ValidationFailure.single("payment_status", "value_is_invalid")
    with transaction.atomic():
        invoice = _locked(organization, invoice_id)
        if invoice.status == InvoiceStatus.VOIDED and payment_status is not None:
            raise NotAllowedFailure("update_on_voided_invoice")
        fields = ["updated_at"]
        if payment_status is not None and payment_status != invoice.payment_status:
            if invoice.status == InvoiceStatus.DRAFT:
                raise NotAllowedFailure("invalid_status")
            invoice.payment_status = payment_status
            fields.append("payment_status")
            if payment_status == PaymentStatus.SUCCEEDED:
                invoice.total_paid_amount_cents = invoice.total_amount_cents
                invoice.payment_overdue = False
                fields += ["total_paid_amount_cents", "payment_overdue"]
                credits.settle_paid_credit_invoice(invoice, now=now)
            Fee.objects.filter(invoice=invoice).update(
                payment_status=payment_status,
                succeeded_at=now if payment_status == PaymentStatus.SUCCEEDED else None,
                failed_at=now if payment_status == PaymentStatus.FAILED else None,
            )
        if metadata is not None:
            invoice.metadata = _merge_metadata(invoice.metadata or [], metadata, now)
            fields.append("metadata")
        invoice.save(update_fields=fields)
    return invoice


def _merge_metadata(current: list[dict], updates: list[dict], now: dt.datetime) -> list[dict]:
    import uuid

    errors: dict[str, list[str]] = {}
    result = [dict(item) for item in current]
    for item in updates:
        if not isinstance(item, dict) or not item.get("key"):
            errors.setdefault("metadata", []).append("value_is_mandatory")
            continue
        key, value = str(item["key"]), "" if item.get("value") is None else str(item["value"])
        existing = next((m for m in result if (item.get("id") and m["id"] == str(item["id"])) or m["key"] == key), None)
        if existing is not None:
            existing.update(key=key, value=value)
        else:
            result.append({"id": str(uuid.uuid4()), "key": key, "value": value, "created_at": now.isoformat()})
    if errors:
        raise ValidationFailure(errors)
    return result


def invoice_mark_paid(organization: Organization, *, invoice_id: UUID | str, now: dt.datetime | None = None) -> Invoice:
    return invoice_update(organization, invoice_id=invoice_id, payment_status=PaymentStatus.SUCCEEDED, now=now)


def invoices_finalize_due(
    now: dt.datetime | None = None, *, organization: Organization | None = None
) -> list[tuple[UUID, UUID]]:
    """Drafts whose grace period ended (beat; `manage.py finalize_drafts`): (invoice id,
    organization id) of the invoices to finalize, oldest due first."""
    now = now or timezone.now()
    drafts = Invoice.objects.filter(status=InvoiceStatus.DRAFT, finalize_at__lte=now)
    if organization is not None:
        drafts = drafts.filter(organization=organization)
    return list(drafts.order_by("finalize_at", "id").values_list("id", "organization_id"))


def invoice_finalize_if_due(invoice_id: UUID | str, *, now: dt.datetime | None = None) -> Invoice | None:
    now = now or timezone.now()
    invoice = Invoice.objects.select_related("organization").filter(id=invoice_id).first()
    if invoice is None or invoice.status != InvoiceStatus.DRAFT or invoice.finalize_at is None:
        return None
    if invoice.finalize_at > now:
        return None
    try:
        return invoice_finalize(invoice.organization, invoice_id=invoice.id, now=now)
    except NotFoundFailure:
        return None  # finalized by someone else meanwhile


def invoices_overdue_due(now: dt.datetime | None = None, *, organization: Organization | None = None) -> list[UUID]:
    """Finalized, unpaid invoices whose payment due date has passed and that are not marked
    overdue yet (beat; `manage.py mark_overdue`)."""
    today = (now or timezone.now()).date()
    candidates = Invoice.objects.filter(
        status=InvoiceStatus.FINALIZED,
        payment_status__in=[PaymentStatus.PENDING, PaymentStatus.FAILED],
        payment_overdue=False,
        payment_due_date__lt=today,
        total_amount_cents__gt=0,
    )
    if organization is not None:
        candidates = candidates.filter(organization=organization)
    return list(candidates.order_by("payment_due_date", "id").values_list("id", flat=True))


def invoice_mark_overdue(invoice_id: UUID | str, *, now: dt.datetime | None = None) -> bool:
    """`payment_overdue` on one invoice (checked again under its row lock); `invoice.payment_overdue`."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("organization", "customer__organization")
            .filter(id=invoice_id)
            .first()
        )
        if invoice is None or invoice.payment_overdue or invoice.status != InvoiceStatus.FINALIZED:
            return False
        if invoice.payment_status == PaymentStatus.SUCCEEDED:
            return False
        _save_and_send(invoice, "invoice.payment_overdue", payment_overdue=True, payment_overdue_at=now)
        return True


def invoices_mark_overdue(now: dt.datetime | None = None) -> int:
    """`payment_overdue` once the payment due date has passed (beat, hourly); `invoice.payment_overdue`."""
    now = now or timezone.now()
    return sum(invoice_mark_overdue(invoice_id, now=now) for invoice_id in invoices_overdue_due(now))


def fee_update(
    organization: Organization, *, fee_id: UUID | str, payment_status: str, now: dt.datetime | None = None
) -> Fee:
    """`PUT /fees/{id}`: the payment status of a fee that is not on an invoice (pay in advance,
    not invoiceable). A fee on an invoice follows its invoice: 405 `invoiced_fee`."""
    now = now or timezone.now()
    if payment_status not in ("pending", "succeeded", "failed", "refunded"):
        raise ValidationFailure.single("payment_status", "value_is_invalid")
    with transaction.atomic():
        fee = _fee_not_invoiced(organization, fee_id)
        fee.payment_status = payment_status
        fee.succeeded_at = now if payment_status == "succeeded" else fee.succeeded_at
        fee.failed_at = now if payment_status == "failed" else fee.failed_at
        fee.refunded_at = now if payment_status == "refunded" else fee.refunded_at
        fee.save(update_fields=["payment_status", "succeeded_at", "failed_at", "refunded_at", "updated_at"])
    return fee


def _fee_not_invoiced(organization: Organization, fee_id: UUID | str) -> Fee:
    """The organization's fee, locked: 404 when unknown or deleted, 405 `invoiced_fee` on an invoice."""
    fee = Fee.objects.select_for_update().filter(organization=organization, id=fee_id, deleted_at__isnull=True).first()
    if fee is None:
        raise NotFoundFailure("fee")
    if fee.invoice_id is not None:
        raise NotAllowedFailure("invoiced_fee")
    return fee


def fee_delete(organization: Organization, *, fee_id: UUID | str, now: dt.datetime | None = None) -> Fee:
    """`DELETE /fees/{id}`: a fee not on an invoice (a pay-in-advance fee of a non-invoiceable charge,
    or a paid one waiting to be regrouped on an invoice) is deleted: `deleted_at` set, the row kept,
    so its event is not billed in advance again; it is no longer listed, found, regrouped or counted
    (minimum commitment, exports). A fee on an invoice follows its invoice: 405 `invoiced_fee`."""
    now = now or timezone.now()
    with transaction.atomic():
        fee = _fee_not_invoiced(organization, fee_id)
        fee.deleted_at = now
        fee.save(update_fields=["deleted_at", "updated_at"])
    return fee
