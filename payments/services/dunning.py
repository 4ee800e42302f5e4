"""Dunning: campaigns per organization turn overdue balances into payment requests.

For each active campaign, each customer whose overdue balance in a currency reaches the
campaign's threshold for that currency gets a payment request every `days_between_attempts`
days, at most `max_attempts` times. A request gathers the overdue invoices, is charged from the
saved method (one payment for all of them) and emailed to the customer. After the last attempt
the customer is flagged (`CustomerDunning.completed_at`) and `dunning_campaign.finished` is sent.
A customer with nothing overdue any more starts from zero next time.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.models import save_unique
from customers.models import Customer, Organization
from customers.payment_choice import PaymentMethodChoice, PaymentMethodInput, payment_method_choose
from invoicing.models import Invoice, InvoiceStatus
from invoicing.models import PaymentStatus as InvoicePaymentStatus
from payments.models import (
    IN_FLIGHT,
    CustomerDunning,
    DunningCampaign,
    EmailKind,
    Payment,
    PaymentOrigin,
    PaymentRequest,
    PaymentStatus,
    PaymentType,
)
from payments.services import emails, notifications
from payments.services.collection import _enqueue_submit, automatic_source, new_payment
from payments.services.method_choice import payment_method_determine, payment_method_determine_for_customer

UNPAID = [InvoicePaymentStatus.PENDING, InvoicePaymentStatus.FAILED]


def dunning_campaign_create(
    organization: Organization,
    *,
    code: str,
    name: str,
    thresholds: list[dict],
    days_between_attempts: int,
    max_attempts: int,
) -> DunningCampaign:
    errors: dict[str, list[str]] = {}
    if not code:
        errors["code"] = ["value_is_mandatory"]
    if not thresholds:
        errors["thresholds"] = ["value_is_mandatory"]
    for item in thresholds or []:
        if not isinstance(item, dict) or not item.get("currency") or not isinstance(item.get("amount_cents"), int):
            errors["thresholds"] = ["value_is_invalid"]
    if max_attempts < 1:
        errors["max_attempts"] = ["value_is_invalid"]
    if errors:
        raise ValidationFailure(errors)
    campaign = DunningCampaign(
        organization=organization,
        code=code,
        name=name or code,
        thresholds=thresholds,
        days_between_attempts=days_between_attempts,
        max_attempts=max_attempts,
    )
    save_unique(campaign, force_insert=True)
    return campaign


def _overdue_by_customer(organization_id: UUID | str) -> dict[tuple[Any, str], list[Invoice]]:
    groups: dict[tuple[Any, str], list[Invoice]] = defaultdict(list)
    invoices = Invoice.objects.filter(
        organization_id=organization_id,
        status=InvoiceStatus.FINALIZED,
        payment_overdue=True,
        payment_status__in=UNPAID,
        customer__deleted_at__isnull=True,
    ).order_by("issuing_date", "id")
    for invoice in invoices:
        if invoice.total_due_amount_cents > 0:
            groups[(invoice.customer_id, invoice.currency)].append(invoice)
    return groups


def dunning_run(
    now: dt.datetime | None = None, *, dry_run: bool = False, organization: Any = None
) -> list[dict[str, Any]]:
    """One pass over every active campaign (beat, daily; `manage.py run_dunning`). Returns what
    was (or, with dry_run, would be) requested: [{customer, currency, amount_cents, attempt}]."""
    now = now or timezone.now()
    campaigns = DunningCampaign.objects.filter(active=True).select_related("organization")
    if organization is not None:
        campaigns = campaigns.filter(organization=organization)
    done: list[dict[str, Any]] = []
    for campaign in campaigns:
        groups = _overdue_by_customer(campaign.organization_id)
        if not dry_run:
            _reset_settled(campaign, groups)
        for (customer_id, currency), invoices in groups.items():
            threshold = campaign.threshold_for(currency)
            amount = sum(invoice.total_due_amount_cents for invoice in invoices)
            if threshold is None or amount < threshold:
                continue
            state = CustomerDunning.objects.filter(customer_id=customer_id, currency=currency).first()
            attempts = state.attempts if state else 0
            if state is not None and (state.completed_at or (state.campaign_id != campaign.id and attempts)):
                continue
            if attempts >= campaign.max_attempts:
                continue
            if (
                state
                and state.last_attempt_at
                and now - state.last_attempt_at < dt.timedelta(days=campaign.days_between_attempts)
            ):
                continue
            entry = {
                "customer_id": str(customer_id),
                "currency": currency,
                "amount_cents": amount,
                "attempt": attempts + 1,
                "campaign": campaign.code,
            }
            if not dry_run:
                request = _attempt(campaign, customer_id, currency, invoices, now)
                if request is None:
                    continue
                entry["payment_request_id"] = str(request.id)
            done.append(entry)
    return done


def _reset_settled(campaign: DunningCampaign, groups: dict[tuple[Any, str], list[Invoice]]) -> None:
    """Customers with nothing overdue any more in a currency start from zero next time."""
    for state in CustomerDunning.objects.filter(campaign=campaign):
        if (state.customer_id, state.currency) not in groups:
            state.delete()


def _attempt(
    campaign: DunningCampaign, customer_id: UUID | str, currency: str, invoices: list[Invoice], now: dt.datetime
) -> PaymentRequest | None:
    with transaction.atomic():
        customer = Customer.objects.select_for_update().select_related("organization").get(id=customer_id)
        state, _ = CustomerDunning.objects.select_for_update().get_or_create(
            customer=customer,
            currency=currency,
            defaults={"organization_id": campaign.organization_id, "campaign": campaign},
        )
        if state.completed_at or state.attempts >= campaign.max_attempts:
            return None
        if state.last_attempt_at and now - state.last_attempt_at < dt.timedelta(days=campaign.days_between_attempts):
            return None
        state.attempts += 1
        state.last_attempt_at = now
        state.campaign = campaign
        request = _create_request(
            customer, invoices, currency=currency, email=customer.email, campaign=campaign, attempt=state.attempts
        )
        if state.attempts >= campaign.max_attempts:
            state.completed_at = now
            notifications.customer_webhook(
                campaign.organization,
                customer,
                "dunning_campaign.finished",
                {
                    "dunning_campaign_code": campaign.code,
                    "overdue_balance_cents": request.amount_cents,
                    "currency": currency,
                },
            )
        state.save()
        _collect_request(request)
        _email(request)
    return request


def _email(request: PaymentRequest) -> None:
    """The reminder goes through the sent-mail ledger: recorded in this transaction (never for a
    rolled-back attempt), sent after commit, at most once, retried on SMTP failure."""
    emails.email_schedule(request.organization, kind=EmailKind.PAYMENT_REQUEST_CREATED, document_id=request.id)


def _create_request(
    customer: Customer,
    invoices: list[Invoice],
    *,
    currency: str,
    email: str,
    campaign: DunningCampaign | None,
    attempt: int,
) -> PaymentRequest:
    request = PaymentRequest.objects.create(
        organization_id=customer.organization_id,
        customer=customer,
        campaign=campaign,
        attempt_number=attempt,
        email=email or "",
        amount_cents=sum(invoice.total_due_amount_cents for invoice in invoices),
        currency=currency,
    )
    request.invoices.set(invoices)
    notifications.payment_request_webhook(request, "payment_request.created")
    return request


def _collect_request(request: PaymentRequest, *, override: PaymentMethodChoice | None = None) -> Payment | None:
    """Charge the request's amount from the saved method (the submission runs after commit);
    `override`: the request's `payment_method` (docs/payments.md §12). Without one, a request
    holding an invoice chosen to be paid by hand (`manual`) is only e-mailed, never charged."""
    customer = request.customer
    source = automatic_source(customer, lambda: payment_method_determine_for_customer(customer, override=override))
    if source is None:
        return None
    connection, method = source
    invoices = list(request.invoices.select_related("customer"))
    if override is None and any(payment_method_determine(invoice).manual for invoice in invoices):
        return None
    invoice_ids = [invoice.id for invoice in invoices]
    if Payment.objects.filter(
        invoice_id__in=invoice_ids, payment_type=PaymentType.PROVIDER, status__in=IN_FLIGHT
    ).exists():
        return None  # an invoice is being charged on its own; its outcome decides
    payment = new_payment(
        request, customer, PaymentOrigin.DUNNING, PaymentStatus.PENDING, connection=connection, method=method, actor=""
    )
    payment.save(force_insert=True)
    _enqueue_submit(payment.id)
    return payment


def payment_request_create(
    organization: Organization,
    *,
    external_customer_id: str,
    email: str | None,
    invoice_ids: list[str],
    payment_method: PaymentMethodInput | None = None,
) -> PaymentRequest:
    """`POST /payment_requests`: the given overdue invoices of one customer, in one currency;
    `payment_method` charges that method (or, `manual`, nothing) instead of the default one."""
    customer = Customer.objects.filter(
        organization=organization, external_id=external_customer_id or "", deleted_at__isnull=True
    ).first()
    if customer is None:
        raise NotFoundFailure("customer")
    if not invoice_ids:
        raise ValidationFailure.single("lago_invoice_ids", "value_is_mandatory")
    try:
        invoices = list(
            Invoice.objects.filter(organization=organization, customer=customer, id__in=invoice_ids).order_by(
                "issuing_date", "id"
            )
        )
    except Exception:  # noqa: BLE001 - malformed ids
        invoices = []
    if len(invoices) != len(set(invoice_ids)):
        raise NotFoundFailure("invoice")
    if any(
        invoice.status != InvoiceStatus.FINALIZED
        or invoice.payment_status not in UNPAID
        or not invoice.payment_overdue
        or invoice.total_due_amount_cents <= 0
        for invoice in invoices
    ):
        raise ValidationFailure.single("invoices", "invoices_not_overdue")
    if len({invoice.currency for invoice in invoices}) != 1:
        raise ValidationFailure.single("invoices", "invoices_have_different_currencies")
    override = payment_method_choose(customer, payment_method) if payment_method is not None else None
    with transaction.atomic():
        request = _create_request(
            customer, invoices, currency=invoices[0].currency, email=email or customer.email, campaign=None, attempt=0
        )
        _collect_request(request, override=override)
        _email(request)
    return request
