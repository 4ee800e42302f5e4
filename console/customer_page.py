"""The customer page as the centre of the work: identity and billing settings, then sections for
subscriptions (with current usage), invoices, payments, credit notes, wallets, coupons, alerts and
the audit trail; and the actions a finance user takes from there. Every action calls the service
the API calls (views stay thin); each is registered through `console_view` with its permission."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from audit.models import AuditLogEntry
from billing_project.core.console import cents_from_major, console_view, decimal_display, money
from billing_project.core.errors import DomainError, ValidationFailure
from billing_project.core.money import exponent, is_currency
from catalog.inputs import AppliedCouponFields
from catalog.models import AddOn, AppliedCoupon, Coupon
from catalog.services import applied_coupon_create
from console import selectors
from customers.admin import CustomerAdmin
from customers.models import Customer
from customers.payment_choice import payment_method_description
from invoicing.admin import display_number, payment_badge, status_badge
from invoicing.credits.inputs import WalletCreate, WalletTransactionCreate
from invoicing.credits.models import CreditNote, Wallet
from invoicing.credits.services.wallets import wallet_create, wallet_transaction_create
from invoicing.inputs import PreviewCustomer, PreviewRequest
from invoicing.models import HIDDEN_STATUSES, Invoice
from invoicing.selectors import current_usage, invoice_amount_due
from invoicing.services.one_off import invoice_create_one_off
from invoicing.services.preview import invoice_preview
from payments import portal
from payments.models import Payment
from subscriptions import selectors as subscription_selectors
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.services import subscription_terminate
from usage_monitoring.selectors import alert_list

LIMIT = 25


def _errors(exc: DomainError) -> str:
    if isinstance(exc, ValidationFailure):
        return "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in exc.details.items())  # type: ignore[union-attr]
    return str(exc)


# ------------------------------------------------------------------------------------------- forms


class ApplyCouponForm(forms.Form):
    coupon = forms.ModelChoiceField(queryset=Coupon.objects.none())
    amount = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=20, decimal_places=3,
        help_text="Fixed-amount coupons only: override the amount for this customer (in the customer's currency).",
    )  # fmt: skip

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["coupon"].queryset = Coupon.live.filter(organization=customer.organization, status="active")


class WalletForm(forms.Form):
    name = forms.CharField(max_length=255, required=False)
    currency = forms.CharField(max_length=3)
    rate_amount = forms.DecimalField(
        initial=Decimal(1), min_value=Decimal("0.00001"), max_digits=20, decimal_places=5,
        help_text="Value of one credit in the currency.",
    )  # fmt: skip
    paid_credits = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=30, decimal_places=5,
        help_text="Bought now: billed on a credit invoice, available once paid.",
    )  # fmt: skip
    granted_credits = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=30, decimal_places=5, help_text="Free credits, available now."
    )

    def clean_currency(self) -> str:
        code = self.cleaned_data["currency"].upper()
        if not is_currency(code):
            raise forms.ValidationError("Unknown currency.")
        return code


class TopUpForm(forms.Form):
    wallet = forms.ModelChoiceField(queryset=Wallet.objects.none())
    paid_credits = forms.DecimalField(required=False, min_value=Decimal(0), max_digits=30, decimal_places=5)
    granted_credits = forms.DecimalField(required=False, min_value=Decimal(0), max_digits=30, decimal_places=5)

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["wallet"].queryset = Wallet.objects.filter(customer=customer, status="active")


class OneOffForm(forms.Form):
    add_on = forms.ModelChoiceField(queryset=AddOn.objects.none())
    units = forms.DecimalField(initial=Decimal(1), min_value=Decimal("0.0000000001"), max_digits=30, decimal_places=10)
    unit_amount = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=20, decimal_places=3,
        help_text="Unit price in the invoice's currency; empty: the add-on's price.",
    )  # fmt: skip
    description = forms.CharField(required=False, max_length=255)

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["add_on"].queryset = AddOn.live.filter(organization=customer.organization)


# -------------------------------------------------------------------------------------- the admin


class ConsoleCustomerAdmin(CustomerAdmin):
    change_form_template = "console/customer.html"

    def get_urls(self) -> list[Any]:
        routes = [
            ("apply-coupon/", self.apply_coupon_view, "catalog.add_appliedcoupon", "customers_customer_apply_coupon"),
            ("wallet/", self.create_wallet_view, "invoicing.add_wallet", "customers_customer_create_wallet"),
            ("top-up/", self.top_up_view, "invoicing.change_wallet", "customers_customer_top_up"),
            ("one-off-invoice/", self.one_off_view, "invoicing.add_invoice", "customers_customer_one_off"),
            ("portal-link/", self.portal_link_view, "customers.change_customer", "customers_customer_portal_link"),
        ]
        extra = [
            path(f"<uuid:customer_id>/{route}", console_view(self.admin_site, view, permission=perm), name=name)
            for route, view, perm, name in routes
        ]
        extra.append(
            path(
                "<uuid:customer_id>/subscriptions/<uuid:subscription_id>/terminate/",
                console_view(self.admin_site, self.terminate_view, permission="subscriptions.change_subscription"),
                name="customers_customer_terminate",
            )
        )
        return [*extra, *super().get_urls()]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        try:
            customer = Customer.objects.select_related("organization").filter(pk=object_id).first()
        except ValidationError:  # a malformed id: the admin answers that it does not exist
            customer = None
        extra = dict(extra_context or {})
        if customer is not None and self.has_view_permission(request, customer):
            extra.update(overview(request, customer))
        return super().change_view(request, object_id, form_url, extra)

    # ------------------------------------------------------------------------------------ actions

    def _page(self, request: HttpRequest, customer: Customer, title: str, **context: Any) -> HttpResponse:
        return TemplateResponse(
            request,
            "console/customer_action.html",
            {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, "customer": customer,
             **context},
        )  # fmt: skip

    def _back(self, customer: Customer, tab: str) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:customers_customer_change", args=[customer.pk]) + f"#{tab}")

    def _customer(self, customer_id: Any) -> Customer:
        return get_object_or_404(Customer.objects.select_related("organization"), pk=customer_id, deleted_at=None)

    def _form_page(
        self, request: HttpRequest, customer: Customer, title: str, form: forms.Form, submit: Callable[[], HttpResponse]
    ) -> HttpResponse:
        """One action's page: its form, and on a valid POST `submit()`, which calls the service and
        answers (a success message and a redirect); what the service refuses (a domain error, or an
        amount the form cannot convert) is shown above the form again."""
        error = None
        if request.method == "POST" and form.is_valid():
            try:
                return submit()
            except forms.ValidationError as exc:
                error = "; ".join(exc.messages)
            except DomainError as exc:
                error = _errors(exc)
        return self._page(request, customer, title, form=form, error=error)

    def apply_coupon_view(self, request: HttpRequest, customer_id: Any) -> HttpResponse:
        customer = self._customer(customer_id)
        form = ApplyCouponForm(request.POST or None, customer=customer)

        def submit() -> HttpResponse:
            coupon = form.cleaned_data["coupon"]
            data = AppliedCouponFields(external_customer_id=customer.external_id, coupon_code=coupon.code)
            amount = form.cleaned_data.get("amount")
            currency = customer.currency or coupon.amount_currency
            if amount is not None and coupon.coupon_type != "percentage" and currency:
                data = replace(data, amount_cents=cents_from_major(amount, currency), amount_currency=currency)
            applied = applied_coupon_create(customer.organization, data=data)
            messages.success(request, f"Coupon {applied.coupon.code} applied to {customer.external_id}.")
            return self._back(customer, "coupons")

        return self._form_page(request, customer, f"Apply a coupon to {customer}", form, submit)

    def create_wallet_view(self, request: HttpRequest, customer_id: Any) -> HttpResponse:
        customer = self._customer(customer_id)
        form = WalletForm(
            request.POST or None,
            initial={"currency": customer.currency or customer.organization.default_currency, "rate_amount": 1},
        )

        def submit() -> HttpResponse:
            data = form.cleaned_data
            payload = {
                "external_customer_id": customer.external_id,
                "name": data["name"] or None,
                "currency": data["currency"],
                "rate_amount": str(data["rate_amount"]),
                "paid_credits": str(data["paid_credits"] or 0),
                "granted_credits": str(data["granted_credits"] or 0),
            }
            wallet = wallet_create(customer.organization, WalletCreate.from_body(payload))
            messages.success(
                request, f"Wallet {wallet} created: balance {money(wallet.balance_cents, wallet.currency)}."
            )
            return self._back(customer, "wallets")

        return self._form_page(request, customer, f"Create a wallet for {customer}", form, submit)

    def top_up_view(self, request: HttpRequest, customer_id: Any) -> HttpResponse:
        customer = self._customer(customer_id)
        form = TopUpForm(request.POST or None, customer=customer, initial={"wallet": request.GET.get("wallet")})

        def submit() -> HttpResponse:
            wallet = form.cleaned_data["wallet"]
            payload = {
                "wallet_id": str(wallet.id),
                "paid_credits": str(form.cleaned_data["paid_credits"] or 0),
                "granted_credits": str(form.cleaned_data["granted_credits"] or 0),
            }
            wallet_transaction_create(customer.organization, WalletTransactionCreate.from_body(payload))
            wallet.refresh_from_db()
            balance = money(wallet.balance_cents, wallet.currency)
            messages.success(request, f"Wallet {wallet} topped up: balance {balance}.")
            return self._back(customer, "wallets")

        return self._form_page(request, customer, f"Top up a wallet of {customer}", form, submit)

    def one_off_view(self, request: HttpRequest, customer_id: Any) -> HttpResponse:
        customer = self._customer(customer_id)
        form = OneOffForm(request.POST or None, customer=customer)

        def submit() -> HttpResponse:
            data = form.cleaned_data
            add_on = data["add_on"]
            currency = customer.currency or add_on.amount_currency
            fee: dict[str, Any] = {"add_on_code": add_on.code, "units": str(data["units"])}
            if data["description"]:
                fee["description"] = data["description"]
            if data["unit_amount"] is not None:
                fee["unit_amount_cents"] = cents_from_major(data["unit_amount"], currency)
            invoice = invoice_create_one_off(
                customer.organization, external_customer_id=customer.external_id, currency=currency, fees=[fee]
            )
            total = money(invoice.total_amount_cents, invoice.currency)
            messages.success(request, f"One-off invoice {display_number(invoice)} issued: {total}.")
            return HttpResponseRedirect(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))

        return self._form_page(request, customer, f"Issue a one-off invoice to {customer}", form, submit)

    def portal_link_view(self, request: HttpRequest, customer_id: Any) -> HttpResponse:
        """The customer portal link to hand to the customer (the same signed, expiring link as
        `GET /customers/{external_id}/portal_url`); making one changes nothing."""
        customer = self._customer(customer_id)
        _, url = portal.portal_url(customer.organization, external_id=customer.external_id)
        return self._page(
            request, customer, f"Portal link for {customer}",
            portal_link=request.build_absolute_uri(url) if url.startswith("/") else url,
            portal_hours=portal.max_age() // 3600,
        )  # fmt: skip

    def terminate_view(self, request: HttpRequest, customer_id: Any, subscription_id: Any) -> HttpResponse:
        """Preview the closing invoice (nothing is kept), then terminate on confirmation."""
        customer = self._customer(customer_id)
        subscription = get_object_or_404(Subscription, pk=subscription_id, customer=customer)
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            try:
                subscription_terminate(customer.organization, subscription)
            except DomainError as exc:
                messages.error(request, f"Refused: {_errors(exc)}")
            else:
                messages.success(
                    request, f"Subscription {subscription.external_id} terminated; its closing invoice follows."
                )
            return self._back(customer, "subscriptions")
        preview: Mapping[str, Any] | None = None
        error = None
        if subscription.status == SubscriptionStatus.ACTIVE:
            try:
                preview = invoice_preview(
                    customer.organization,
                    PreviewRequest(
                        customer=PreviewCustomer(external_id=customer.external_id),
                        external_ids=(subscription.external_id,),
                        terminated_at=timezone.now(),
                    ),
                )
            except DomainError as exc:
                error = _errors(exc)
        currency = (preview or {}).get("currency") or customer.currency or subscription.plan.amount_currency
        lines = [
            {
                "name": (fee.get("item") or {}).get("name") or fee.get("invoice_display_name") or "",
                "units": decimal_display(fee.get("units")),
                "amount": money(fee.get("amount_cents"), currency),
            }
            for fee in (preview or {}).get("fees", [])
        ]
        return self._page(
            request, customer, f"Terminate {subscription.external_id}",
            subscription=subscription, preview=preview, preview_lines=lines, error=error,
            preview_total=money((preview or {}).get("total_amount_cents"), currency) if preview else None,
            terminate=True,
        )  # fmt: skip


# ---------------------------------------------------------------------------------- the overview


def overview(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    organization = customer.organization
    now = timezone.now()
    today = selectors.organization_today(organization, now)
    user = request.user
    subscriptions = list(
        Subscription.objects.filter(customer=customer).select_related("plan").order_by("-created_at")[:LIMIT]
    )
    subscription_rows = [_subscription_row(customer, sub, now) for sub in subscriptions]
    invoices = list(
        Invoice.objects.filter(customer=customer).exclude(status__in=HIDDEN_STATUSES).order_by("-created_at")[:LIMIT]
    )
    invoice_rows = [
        {
            "invoice": i,
            "label": display_number(i),
            "status": status_badge(i),
            "payment": payment_badge(i, today),
            "total": money(i.total_amount_cents, i.currency),
            "due": money(invoice_amount_due(i), i.currency) if invoice_amount_due(i) else "-",
        }
        for i in invoices
    ]
    payments = [
        {"payment": p, "amount": money(p.amount_cents, p.currency), "when": p.paid_at or p.created_at}
        for p in Payment.objects.filter(customer=customer).select_related("invoice").order_by("-created_at")[:LIMIT]
    ]
    credit_notes = [
        {
            "note": n,
            "total": money(n.total_amount_cents, n.currency),
            "balance": money(n.balance_amount_cents, n.currency),
        }
        for n in CreditNote.objects.filter(customer=customer).select_related("invoice").order_by("-created_at")[:LIMIT]
    ]
    wallets = [
        {
            "wallet": w,
            "balance": money(w.balance_cents, w.currency),
            "ongoing": money(w.ongoing_balance_cents, w.currency),
            "credits": decimal_display(w.credits_balance),
        }
        for w in Wallet.objects.filter(customer=customer).order_by("-created_at")
    ]
    coupons = [
        {
            "applied": a,
            "value": f"{decimal_display(a.percentage_rate)} %"
            if a.percentage_rate is not None
            else money(a.amount_cents, a.amount_currency),
            "remaining": money(a.amount_cents_remaining, a.amount_currency)
            if a.amount_cents_remaining is not None
            else (f"{a.frequency_duration_remaining} period(s)" if a.frequency_duration_remaining is not None else "-"),
        }
        for a in AppliedCoupon.objects.filter(customer=customer).select_related("coupon").order_by("-created_at")
    ]
    alerts = [
        {"alert": a, "subscription": sub.external_id}
        for sub in subscriptions
        for a in alert_list(organization, sub.external_id)
    ]
    object_ids = [str(customer.pk), *(str(s.pk) for s in subscriptions), *(str(i.pk) for i in invoices)]
    audit = list(
        AuditLogEntry.objects.filter(object_id__in=object_ids)
        .select_related("content_type")
        .order_by("-created_at")[:LIMIT]
    )
    balances = selectors.customer_balances(customer, today=today)
    return {
        "title": customer.name or customer.external_id,
        "subtitle": None,
        "customer": customer,
        "today": today,
        "balances": [
            {
                "currency": b.currency,
                "invoiced": money(b.invoiced, b.currency),
                "due": money(b.due, b.currency),
                "overdue": money(b.overdue, b.currency),
                "overdue_cents": b.overdue,
                "oldest_overdue": b.oldest_overdue,
                "credit_notes": money(b.credit_notes_available, b.currency),
                "wallets": money(b.wallet_balance, b.currency),
            }
            for b in balances
        ],
        "subscription_rows": subscription_rows,
        "invoice_rows": invoice_rows,
        "payment_rows": payments,
        "credit_note_rows": credit_notes,
        "wallet_rows": wallets,
        "coupon_rows": coupons,
        "alert_rows": alerts,
        "audit_rows": audit,
        "can": {
            "apply_coupon": user.has_perm("catalog.add_appliedcoupon"),
            "create_wallet": user.has_perm("invoicing.add_wallet"),
            "top_up": user.has_perm("invoicing.change_wallet") and any(w["wallet"].status == "active" for w in wallets),
            "one_off": user.has_perm("invoicing.add_invoice"),
            "portal_link": user.has_perm("customers.change_customer"),
            "terminate": user.has_perm("subscriptions.change_subscription"),
            "subscribe": user.has_perm("subscriptions.add_subscription"),
        },
        "invoices_url": f"{reverse('admin:invoicing_invoice_changelist')}?customer__id__exact={customer.pk}",
        "payments_url": f"{reverse('admin:payments_payment_changelist')}?q={customer.external_id}",
    }


def _subscription_row(customer: Customer, sub: Subscription, now: dt.datetime) -> dict[str, Any]:
    row: dict[str, Any] = {
        "subscription": sub,
        "period": "-",
        "next_billing": "-",
        "usage": "-",
        "payment_method": payment_method_description(sub, customer.organization_id),
    }
    if sub.status != SubscriptionStatus.ACTIVE:
        return row
    period = subscription_selectors.current_period(sub)
    if period is not None:
        row["period"] = f"{period.service.start:%Y-%m-%d} → {period.full.to_datetime:%Y-%m-%d}"
    next_at = subscription_selectors.next_billing_at(sub)
    if next_at:
        row["next_billing"] = f"{next_at:%Y-%m-%d}"
    try:
        usage = current_usage(
            customer.organization, external_customer_id=customer.external_id, external_subscription_id=sub.external_id
        )
    except DomainError:
        return row
    currency = usage.get("currency") or sub.plan.amount_currency
    row["usage"] = money(usage.get("total_amount_cents"), currency)
    row["usage_lines"] = [
        {
            "metric": (c.get("billable_metric") or {}).get("name") or (c.get("billable_metric") or {}).get("code"),
            "units": decimal_display(c.get("units")),
            "amount": money(c.get("amount_cents"), currency),
        }
        for c in usage.get("charges_usage", [])
    ]
    return row


def exponent_of(currency: str) -> int:
    return exponent(currency) if is_currency(currency) else 2
