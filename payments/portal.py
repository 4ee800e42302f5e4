"""The customer portal: a signed, expiring link (`GET /api/v1/customers/{external_id}/portal_url`)
opens server-rendered pages (no JavaScript) where the customer sees its invoices (status, amounts,
PDF), payment receipts, wallet balances and saved payment methods, sets its default method,
removes one, adds one through the provider's hosted page and pays an open invoice there
(docs/portal.md).

The token is Django's `TimestampSigner` over (organization id, customer id) with the salt
`bxb.portal`: tampered → 404, older than `PORTAL_LINK_MAX_AGE_SECONDS` → 404 (a new link must be
asked for); every object a page touches is looked up under the token's customer, so a valid
token never reaches another customer's invoice or method."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from billing_project.core.actor import ACTOR_SYSTEM, Actor, acting_as
from billing_project.core.admin_pages import pdf_response
from billing_project.core.errors import DomainError
from billing_project.core.money import format_amount
from customers.models import Customer
from payments.models import PaymentMethod, PaymentReceipt
from payments.services.method_choice import payment_method_summary

SALT = "bxb.portal"


def max_age() -> int:
    return int(getattr(settings, "PORTAL_LINK_MAX_AGE_SECONDS", 12 * 3600))


def portal_token(customer: Customer) -> str:
    return signing.TimestampSigner(salt=SALT).sign_object({"o": str(customer.organization_id), "c": str(customer.id)})


def portal_url(organization: Any, *, external_id: str) -> tuple[Customer, str]:
    from billing_project.core.errors import NotFoundFailure

    customer = Customer.objects.filter(
        organization=organization, external_id=external_id, deleted_at__isnull=True
    ).first()
    if customer is None:
        raise NotFoundFailure("customer")
    base = (getattr(settings, "PUBLIC_URL", "") or "").rstrip("/")
    return customer, f"{base}/portal/{portal_token(customer)}/"


def _customer(token: str) -> Customer:
    try:
        data = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=max_age())
        customer = (
            Customer.objects.select_related("organization")
            .filter(id=data["c"], organization_id=data["o"], deleted_at__isnull=True)
            .first()
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        customer = None
    if customer is None:
        raise Http404("This link is invalid or has expired.")
    return customer


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404("Not found.") from None


def _invoice(customer: Customer, invoice_id: str) -> Any:
    from invoicing.models import Invoice, InvoiceStatus

    invoice = Invoice.objects.filter(
        customer=customer, id=_uuid(invoice_id), status__in=[InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED]
    ).first()
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice


@require_GET
def portal_home(request: HttpRequest, token: str) -> HttpResponse:
    from invoicing.credits.models import Wallet
    from invoicing.models import Invoice, InvoiceStatus

    customer = _customer(token)
    invoices = Invoice.objects.filter(
        customer=customer, status__in=[InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED]
    ).order_by("-issuing_date", "-id")[:100]
    receipts = PaymentReceipt.objects.filter(payment__customer=customer).select_related("payment")[:100]
    methods = (
        PaymentMethod.objects.filter(customer=customer)
        .select_related("connection")
        .order_by("-is_default", "-created_at")
    )
    wallets = Wallet.objects.filter(customer=customer, status="active")
    context = {
        "usage": _current_usage(customer),
        "token": token,
        "customer": customer,
        "organization": customer.organization,
        "invoices": [
            {
                "id": invoice.id,
                "number": invoice.number,
                "issuing_date": invoice.issuing_date,
                "status": invoice.status,
                "payment_status": invoice.payment_status,
                "total": format_amount(invoice.total_amount_cents, invoice.currency),
                "due": format_amount(invoice.total_due_amount_cents, invoice.currency),
                "payable": invoice.status == InvoiceStatus.FINALIZED
                and invoice.payment_status != "succeeded"
                and invoice.total_due_amount_cents > 0,
            }
            for invoice in invoices
        ],
        "receipts": [
            {
                "id": r.id,
                "number": r.number,
                "amount": format_amount(r.payment.amount_cents, r.payment.currency),
                "date": (r.payment.paid_at or r.created_at).date(),
            }
            for r in receipts
        ],
        "methods": methods,
        "wallets": [
            {"name": w.name or w.currency, "balance": format_amount(w.balance_cents, w.currency)} for w in wallets
        ],
        "message": request.GET.get("m", ""),
    }
    return render(request, "payments/portal/home.html", context)


def _current_usage(customer: Customer) -> list[dict[str, Any]]:
    """Each active subscription's usage so far this period, priced like the invoice (the selector
    behind `GET /customers/{id}/current_usage`), with its amount per metric."""
    from billing_project.core.console import decimal_display
    from billing_project.core.errors import DomainError
    from invoicing.selectors import current_usage
    from subscriptions.models import Subscription, SubscriptionStatus

    rows = []
    subscriptions = (
        Subscription.objects.filter(customer=customer, status=SubscriptionStatus.ACTIVE)
        .select_related("plan")
        .order_by("started_at", "id")
    )
    for sub in subscriptions:
        try:
            usage = current_usage(
                customer.organization,
                external_customer_id=customer.external_id,
                external_subscription_id=sub.external_id,
            )
        except DomainError:
            continue
        currency = usage.get("currency") or sub.plan.amount_currency
        rows.append(
            {
                "plan": sub.name or sub.plan.name,
                "paid_with": payment_method_summary(customer, sub.payment_method_choice),
                "from": usage.get("from_datetime"),
                "to": usage.get("to_datetime"),
                "total": format_amount(int(usage.get("amount_cents") or 0), currency),
                "lines": [
                    {
                        "name": (c.get("charge") or {}).get("invoice_display_name")
                        or (c.get("billable_metric") or {}).get("name")
                        or (c.get("billable_metric") or {}).get("code"),
                        "units": decimal_display(c.get("units")),
                        "amount": format_amount(int(c.get("amount_cents") or 0), currency),
                    }
                    for c in usage.get("charges_usage") or []
                ],
            }
        )
    return rows


@require_GET
def portal_invoice_pdf(request: HttpRequest, token: str, invoice_id: str) -> FileResponse:
    from invoicing.services.documents import invoice_generate_pdf

    invoice = _invoice(_customer(token), invoice_id)
    return pdf_response(request, invoice_generate_pdf(invoice.id) or invoice)


@require_GET
def portal_receipt_pdf(request: HttpRequest, token: str, receipt_id: str) -> FileResponse:
    from payments.services.receipts import receipt_generate_pdf

    customer = _customer(token)
    receipt = PaymentReceipt.objects.filter(payment__customer=customer, id=_uuid(receipt_id)).first()
    if receipt is None:
        raise Http404("No such receipt.")
    return pdf_response(request, receipt_generate_pdf(receipt.id))


def _back(token: str, message: str) -> HttpResponseRedirect:
    from urllib.parse import quote

    return HttpResponseRedirect(f"/portal/{token}/?m={quote(message)}")


@require_POST
def portal_pay(request: HttpRequest, token: str, invoice_id: str) -> HttpResponse:
    from payments.services.collection import invoice_payment_url

    customer = _customer(token)
    invoice = _invoice(customer, invoice_id)
    try:
        # The portal's visitor is not signed in: the customer the signed link names is who acts.
        with acting_as(Actor(ACTOR_SYSTEM, label=f"portal:{customer.id}")):
            url = invoice_payment_url(customer.organization, invoice_id=invoice.id)
    except DomainError:
        return _back(token, "This invoice cannot be paid online right now.")
    return HttpResponseRedirect(url)


@require_POST
def portal_add_method(request: HttpRequest, token: str) -> HttpResponse:
    from payments.services.customers import customer_checkout_url

    customer = _customer(token)
    try:
        _, url = customer_checkout_url(customer.organization, external_id=customer.external_id)
    except DomainError:
        return _back(token, "A payment method cannot be added online right now.")
    return HttpResponseRedirect(url)


def _method(customer: Customer, method_id: str) -> PaymentMethod:
    method = PaymentMethod.objects.filter(customer=customer, id=_uuid(method_id)).first()
    if method is None:
        raise Http404("No such payment method.")
    return method


def _method_change(token: str, method_id: str, change: Any, done: str) -> HttpResponse:
    """`change(organization, external_id=, method_id=)` on one of the customer's saved methods."""
    customer = _customer(token)
    method = _method(customer, method_id)
    change(customer.organization, external_id=customer.external_id, method_id=method.id)
    return _back(token, done)


@require_POST
def portal_method_default(request: HttpRequest, token: str, method_id: str) -> HttpResponse:
    from payments.services.customers import payment_method_set_default

    return _method_change(token, method_id, payment_method_set_default, "Default payment method updated.")


@require_POST
def portal_method_remove(request: HttpRequest, token: str, method_id: str) -> HttpResponse:
    from payments.services.customers import payment_method_destroy

    return _method_change(token, method_id, payment_method_destroy, "Payment method removed.")
