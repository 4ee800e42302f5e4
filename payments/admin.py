"""Finance console for payments: connections (secrets write-only), the payments ledger, refunds,
provider events, dunning campaigns and payment requests. State changes go through services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from billing_project.core.admin_pages import PdfAdminMixin, money_column
from billing_project.core.console import (
    ReadOnlyAdmin,
    TotalsChangeListMixin,
    cents_from_major,
    currency_totals,
)
from billing_project.core.each_row import apply_each
from billing_project.core.errors import DomainError
from billing_project.core.money import format_amount
from payments.models import (
    DunningCampaign,
    EventStatus,
    Payment,
    PaymentMethod,
    PaymentProviderConnection,
    PaymentReceipt,
    PaymentRequest,
    PaymentStatus,
    ProviderEvent,
    Refund,
)
from payments.services import collection, connections, events, refunds

# --------------------------------------------------------------------------- connections


class ConnectionForm(forms.ModelForm):
    secret_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: stored encrypted, never shown again. Leave empty to keep the current one.",
    )
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="The provider's webhook signing secret (Stripe: whsec_...; Adyen: the HMAC key, hex; "
        "GoCardless: the webhook endpoint's secret). Write-only.",
    )

    success_redirect_url = forms.URLField(required=False, assume_scheme="https", max_length=1024)

    class Meta:
        model = PaymentProviderConnection
        fields = (
            "organization",
            "code",
            "name",
            "provider",
            "success_redirect_url",
            "merchant_account",
            "live_prefix",
            "environment",
        )


@admin.register(PaymentProviderConnection)
class PaymentProviderConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ("code", "provider", "name", "organization", "has_secret_key", "has_webhook_secret", "webhook_path")
    list_select_related = ("organization",)
    list_filter = ("provider",)
    search_fields = ("code", "name", "organization__name")

    @admin.display(boolean=True, description="secret key")
    def has_secret_key(self, obj: PaymentProviderConnection) -> bool:
        return bool(obj.secret_key_encrypted)

    @admin.display(boolean=True, description="webhook secret")
    def has_webhook_secret(self, obj: PaymentProviderConnection) -> bool:
        return bool(obj.webhook_secret_encrypted)

    @admin.display(description="webhook endpoint")
    def webhook_path(self, obj: PaymentProviderConnection) -> str:
        return f"/webhooks/{obj.provider}/{obj.organization_id}?code={obj.code}"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        secret, webhook = form.cleaned_data.get("secret_key"), form.cleaned_data.get("webhook_secret")
        if change:
            super().save_model(request, obj, form, change)
            connections.connection_set_secrets(obj, secret_key=secret or None, webhook_secret=webhook or None)
            return
        created = connections.connection_create(
            obj.organization,
            code=obj.code,
            provider=obj.provider,
            name=obj.name,
            secret_key=secret or "",
            webhook_secret=webhook or "",
            success_redirect_url=obj.success_redirect_url,
            merchant_account=obj.merchant_account,
            live_prefix=obj.live_prefix,
            environment=obj.environment,
        )
        obj.pk = created.pk
        obj.id = created.id
        obj._state.adding = False


# --------------------------------------------------------------------------- payments ledger


class ManualPaymentForm(forms.ModelForm):
    """The add page records a manual payment (through the same service as the API), its amount
    typed in the invoice's currency."""

    amount = forms.DecimalField(
        min_value=Decimal(0), max_digits=20, decimal_places=3, help_text="In the invoice's currency (e.g. 149.00)."
    )

    class Meta:
        model = Payment
        fields = ("invoice", "reference", "paid_at")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data; the stubs allow None
        invoice, amount = cleaned.get("invoice"), cleaned.get("amount")
        if invoice is not None and amount is not None:
            try:
                cleaned["amount_cents"] = cents_from_major(amount, invoice.currency)
            except forms.ValidationError as exc:
                self.add_error("amount", exc)
        return cleaned


@admin.register(Payment)
class PaymentAdmin(TotalsChangeListMixin, admin.ModelAdmin):
    form = ManualPaymentForm
    show_full_result_count = False
    list_display = (
        "created_at",
        "customer",
        "invoice",
        "payment_type",
        "status",
        "amount",
        "provider_payment_id",
        "next_retry_at",
    )
    list_select_related = ("customer", "invoice", "connection")
    list_filter = ("status", "payment_type", "origin", "currency")
    search_fields = (
        "=invoice__number",
        "=customer__external_id",
        "customer__email",
        "=provider_payment_id",
        "reference",
    )
    raw_id_fields = ("invoice",)
    actions = ("retry_payment", "refund_credit_notes")
    list_title = "Payments"
    saved_filters = (
        ("Succeeded", "status__exact=succeeded"),
        ("Failed", "status__exact=failed"),
        ("In flight", "status__in=pending,processing,requires_action"),
        ("Manual", "payment_type__exact=manual"),
    )

    def totals(self, queryset: QuerySet[Payment]) -> list[tuple[str, list[str]]]:
        return [
            ("Totals of this list, per currency", currency_totals(queryset, amount="amount_cents")),
            (
                "Succeeded, net of refunds",
                currency_totals(
                    queryset.filter(status=PaymentStatus.SUCCEEDED),
                    amount=F("amount_cents") - F("refunded_amount_cents"),
                ),
            ),
        ]

    ordering = ("-created_at",)

    def has_collect_permission(self, request: HttpRequest) -> bool:
        """Moving money: who may record payments (Billing Admin, Super Admin)."""
        return request.user.has_perm("payments.add_payment")

    amount = money_column("amount_cents", "amount", ordering="amount_cents")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return [f.name for f in Payment._meta.fields]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("invoice", "amount", "reference", "paid_at")
        return [f.name for f in Payment._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        invoice = form.cleaned_data["invoice"]
        try:
            payment = collection.payment_create_manual(
                invoice.organization,
                invoice_id=invoice.id,
                amount_cents=form.cleaned_data["amount_cents"],
                reference=form.cleaned_data["reference"],
                paid_at=form.cleaned_data.get("paid_at"),
            )
        except DomainError as exc:
            self.message_user(request, f"Not recorded: {exc}", messages.ERROR)
            return
        obj.pk = payment.pk
        obj.id = payment.id
        obj._state.adding = False
        self.message_user(
            request, f"Recorded {format_amount(payment.amount_cents, payment.currency)} on {invoice.number}."
        )

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        from django.http import HttpResponseRedirect
        from django.urls import reverse

        return HttpResponseRedirect(reverse("admin:payments_payment_changelist"))

    @admin.action(description="Retry payment of these payments' invoices now", permissions=["collect"])
    def retry_payment(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        apply_each(
            self,
            request,
            {p.invoice for p in queryset.select_related("invoice__organization") if p.invoice_id},
            lambda invoice: collection.invoice_retry_payment(invoice.organization, invoice_id=invoice.id),
            title="Retry started",
            label=lambda invoice: str(invoice.number),
            outcome=lambda name, _: name,
        )

    @admin.action(
        description="Refund the pending credit-note refunds of these payments' invoices", permissions=["collect"]
    )
    def refund_credit_notes(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        from invoicing.credits.models import CreditNote

        notes = CreditNote.objects.filter(
            invoice_id__in=queryset.filter(status=PaymentStatus.SUCCEEDED).values("invoice_id"),
            refund_amount_cents__gt=0,
            refund_status="pending",
        ).select_related("organization")
        count = 0
        for note in notes:
            try:
                refunds.credit_note_refund(note.organization, credit_note_id=note.id)
                count += 1
            except DomainError as exc:
                self.message_user(request, f"{note.number}: {exc}", messages.WARNING)
        self.message_user(request, f"Refund sent for {count} credit note(s).")


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "payment", "credit_note", "status", "amount", "provider_refund_id")
    list_select_related = ("payment", "credit_note")
    list_filter = ("status", "currency")
    search_fields = ("=provider_refund_id", "=credit_note__number")

    amount = money_column("amount_cents", "amount", ordering="amount_cents")


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnlyAdmin):
    list_display = ("customer", "connection", "provider_method_id", "method_type", "is_default", "created_at")
    list_select_related = ("customer", "connection")
    list_filter = ("is_default", "method_type")
    search_fields = ("=customer__external_id", "=provider_method_id")


# --------------------------------------------------------------------------- provider events


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "provider", "event_type", "event_id", "status", "attempts", "organization")
    list_select_related = ("organization",)
    list_filter = ("status", "provider", "event_type")
    search_fields = ("=event_id",)
    readonly_fields = ("pretty_payload",)
    fields = (
        "organization",
        "connection",
        "provider",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "error",
        "processed_at",
        "pretty_payload",
    )
    actions = ("reprocess",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

    @admin.display(description="payload")
    def pretty_payload(self, obj: ProviderEvent) -> str:
        import json

        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.add_payment")

    @admin.action(description="Process again (waiting or failed events)", permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[ProviderEvent]) -> None:
        ids = list(queryset.filter(status__in=[EventStatus.WAITING, EventStatus.FAILED]).values_list("id", flat=True))
        ProviderEvent.objects.filter(id__in=ids).update(status=EventStatus.WAITING, attempts=0)
        results = [events.provider_event_process(event_id).status for event_id in ids]
        self.message_user(request, f"Processed {len(ids)} event(s): {', '.join(results) or 'none'}.")


# --------------------------------------------------------------------------- dunning


class DunningCampaignForm(forms.ModelForm):
    class Meta:
        model = DunningCampaign
        fields = ("organization", "code", "name", "thresholds", "days_between_attempts", "max_attempts", "active")

    def clean_thresholds(self) -> Any:
        from billing_project.core.money import is_currency

        value = self.cleaned_data.get("thresholds")
        if not isinstance(value, list) or not value:
            raise forms.ValidationError('A list such as [{"currency": "USD", "amount_cents": 10000}].')
        for item in value:
            if (
                not isinstance(item, dict)
                or not is_currency(str(item.get("currency", "")).upper())
                or not isinstance(item.get("amount_cents"), int)
                or isinstance(item.get("amount_cents"), bool)
                or item["amount_cents"] < 0
            ):
                raise forms.ValidationError(f"Invalid threshold: {item!r} (currency code, integer amount_cents >= 0).")
        return [{"currency": str(i["currency"]).upper(), "amount_cents": i["amount_cents"]} for i in value]

    def clean_max_attempts(self) -> Any:
        value = self.cleaned_data.get("max_attempts")
        if not value or value < 1:
            raise forms.ValidationError("At least one attempt.")
        return value


@admin.register(DunningCampaign)
class DunningCampaignAdmin(admin.ModelAdmin):
    form = DunningCampaignForm
    list_display = ("code", "name", "organization", "days_between_attempts", "max_attempts", "active")
    list_select_related = ("organization",)
    list_filter = ("active",)
    search_fields = ("code", "name")


@admin.register(PaymentRequest)
class PaymentRequestAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "customer", "campaign", "attempt_number", "payment_status", "amount", "email")
    list_select_related = ("customer", "campaign")
    list_filter = ("payment_status", "currency")
    search_fields = ("=customer__external_id", "email")
    filter_horizontal = ()

    amount = money_column("amount_cents", "amount", ordering="amount_cents")


@admin.register(PaymentReceipt)
class PaymentReceiptAdmin(PdfAdminMixin, ReadOnlyAdmin):
    pdf_kwarg = "receipt_id"
    list_display = ("number", "created_at", "customer", "amount", "payment_type", "pdf_link")
    list_select_related = ("payment", "payment__customer")
    list_filter = ("payment__currency", "payment__payment_type")
    search_fields = ("=number", "=payment__customer__external_id", "payment__customer__email")
    readonly_fields = ("number", "sequential_id", "payment", "organization", "file", "file_generated_at", "emailed_at")

    @admin.display(description="customer")
    def customer(self, obj: PaymentReceipt) -> str:
        return str(obj.payment.customer)

    amount = money_column("payment.amount_cents", "amount", currency="payment.currency")

    @admin.display(description="type")
    def payment_type(self, obj: PaymentReceipt) -> str:
        return obj.payment.payment_type

    @admin.display(description="PDF")
    def pdf_link(self, obj: PaymentReceipt) -> str:
        from django.urls import reverse

        return format_html('<a href="{}">PDF</a>', reverse("admin:payments_paymentreceipt_pdf", args=[obj.id]))

    def pdf_document(self, request: HttpRequest, pk: Any) -> Any:
        from django.http import HttpResponse

        from payments.services.receipts import receipt_generate_pdf

        if not PaymentReceipt.objects.filter(id=pk).exists():
            return HttpResponse("No such receipt.", status=404)
        return receipt_generate_pdf(pk)
