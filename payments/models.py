"""Payments: provider connections (encrypted credentials), payment methods, payments (one row per
attempt at a provider, or one manual payment), refunds, inbound provider events, dunning.

Invariants held by the database:
* one in-flight provider payment per invoice and per payment request (partial unique constraints),
  so two workers can never start two charges for the same invoice;
* `idempotency_key` is unique and derived from the payment's own id (`bxb_payment_<id>`), so a
  retried submission replays at the provider instead of charging again;
* an inbound provider event is stored once per (organization, provider, event id).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing_project.core.models import BaseModel
from invoicing.credits.models import RefundStatus
from invoicing.models import PaymentStatus as DocumentPaymentStatus


class ProviderName(models.TextChoices):
    MANUAL = "manual"
    STRIPE = "stripe"
    ADYEN = "adyen"
    GOCARDLESS = "gocardless"


class PaymentProviderConnection(BaseModel):
    """An organization's account at a payment provider. Secrets are Fernet-encrypted at rest and
    are never returned by the API nor shown by the admin once entered."""

    organization = models.ForeignKey(
        "customers.Organization", on_delete=models.CASCADE, related_name="payment_provider_connections"
    )
    code = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True, default="")
    provider = models.CharField(max_length=32, choices=ProviderName.choices)
    secret_key_encrypted = models.TextField(blank=True, default="", editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    success_redirect_url = models.URLField(max_length=1024, blank=True, default="")
    # Non-secret account settings: Adyen's merchant account and live URL prefix; the environment
    # (Adyen `test`/`live`, GoCardless `sandbox`/`live`; empty = the provider's test one).
    merchant_account = models.CharField(max_length=255, blank=True, default="")
    live_prefix = models.CharField(max_length=255, blank=True, default="")
    environment = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="payment_provider_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.code}"

    @property
    def secret_key(self) -> str:
        from payments import crypto

        return crypto.decrypt(self.secret_key_encrypted)

    @property
    def webhook_secret(self) -> str:
        from payments import crypto

        return crypto.decrypt(self.webhook_secret_encrypted)


class PaymentMethod(BaseModel):
    """A customer's saved method at a provider (card, SEPA mandate); the default one is charged."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="payment_methods")
    connection = models.ForeignKey(PaymentProviderConnection, on_delete=models.CASCADE, related_name="+")
    provider_method_id = models.CharField(max_length=255)
    method_type = models.CharField(max_length=64, blank=True, default="")
    details = models.JSONField(default=dict, blank=True, help_text="What the provider told of it (brand, last4).")
    is_default = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "connection", "provider_method_id"], name="payment_method_once_per_customer"
            ),
            models.UniqueConstraint(
                fields=["customer"], condition=Q(is_default=True), name="payment_method_one_default"
            ),
        ]


class PaymentStatus(models.TextChoices):
    PENDING = "pending"  # created here, the provider's answer is not known yet
    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


IN_FLIGHT = [PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION]
FINAL = [PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED]


class PaymentType(models.TextChoices):
    PROVIDER = "provider"
    MANUAL = "manual"


class PaymentOrigin(models.TextChoices):
    AUTOMATIC = "automatic"  # after finalization
    RETRY = "retry"  # the retry schedule
    API_RETRY = "api_retry"  # POST /invoices/{id}/retry_payment, admin action
    PAYMENT_URL = "payment_url"  # hosted checkout for an invoice without a saved method
    DUNNING = "dunning"  # a payment request
    MANUAL = "manual"


class Payment(BaseModel):
    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    payment_request = models.ForeignKey(
        "payments.PaymentRequest", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    connection = models.ForeignKey(
        PaymentProviderConnection, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    payment_type = models.CharField(max_length=16, choices=PaymentType.choices)
    origin = models.CharField(max_length=16, choices=PaymentOrigin.choices)
    status = models.CharField(max_length=24, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=255, blank=True, default="")
    idempotency_key = models.CharField(max_length=128, unique=True)
    provider_payment_id = models.CharField(max_length=255, blank=True, default="")
    provider_customer_id = models.CharField(max_length=255, blank=True, default="")
    provider_method_id = models.CharField(max_length=255, blank=True, default="")
    # The saved `PaymentMethod` charged (Lago's `payment_method_id`), kept as a plain id so the
    # ledger row never changes when the method is removed; null: none of ours (a hosted page, the
    # provider's own default, a manual payment).
    payment_method_id = models.UUIDField(null=True, blank=True)
    payment_url = models.TextField(blank=True, default="")
    next_action_url = models.TextField(blank=True, default="")
    error_code = models.CharField(max_length=128, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    submissions = models.PositiveIntegerField(default=0, help_text="Requests sent to the provider (same key).")
    submitted_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True, help_text="When the retry schedule tries again.")
    refunded_amount_cents = models.BigIntegerField(default=0)
    dispute_status = models.CharField(max_length=32, blank=True, default="")
    dispute_lost_at = models.DateTimeField(null=True, blank=True)
    actor = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["status", "next_retry_at"]),
            models.Index(fields=["provider_payment_id"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status__in=IN_FLIGHT, payment_type="provider", invoice__isnull=False),
                name="payment_one_in_flight_per_invoice",
            ),
            models.UniqueConstraint(
                fields=["payment_request"],
                condition=Q(status__in=IN_FLIGHT, payment_type="provider", payment_request__isnull=False),
                name="payment_one_in_flight_per_request",
            ),
            models.UniqueConstraint(
                fields=["connection", "provider_payment_id"],
                condition=~Q(provider_payment_id=""),
                name="payment_provider_id_unique",
            ),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_type} {self.amount_cents} {self.currency} ({self.status})"


class Refund(BaseModel):
    """Money given back through the provider that took the payment (a credit note's refund part)."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    credit_note = models.ForeignKey(
        "invoicing.CreditNote", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    idempotency_key = models.CharField(max_length=128, unique=True)
    provider_refund_id = models.CharField(max_length=255, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_note", "payment"],
                condition=Q(credit_note__isnull=False),
                name="refund_once_per_credit_note_payment",
            ),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="refund_amount_positive"),
        ]


class EventStatus(models.TextChoices):
    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"  # a type we do not handle
    WAITING = "waiting"  # refers to a record we do not have yet; retried
    FAILED = "failed"


class ProviderEvent(BaseModel):
    """An inbound provider webhook, stored once under the provider's event id, processed after commit."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(PaymentProviderConnection, on_delete=models.CASCADE, related_name="events")
    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=128)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "provider", "event_id"], name="provider_event_once"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"


class DunningCampaign(BaseModel):
    """Per organization: when a customer's overdue balance in a currency reaches the threshold,
    a payment request is made every `days_between_attempts` days, at most `max_attempts` times."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    days_between_attempts = models.PositiveIntegerField(default=3)
    max_attempts = models.PositiveIntegerField(default=3)
    thresholds = models.JSONField(default=list, help_text='[{"currency": "USD", "amount_cents": 1000}]')
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="dunning_campaign_code_unique")]

    def __str__(self) -> str:
        return self.name or self.code

    def threshold_for(self, currency: str) -> int | None:
        for item in self.thresholds or []:
            if str(item.get("currency", "")).upper() == currency.upper():
                return int(item.get("amount_cents", 0))
        return None


class PaymentRequest(BaseModel):
    """A request to pay a customer's overdue invoices at once (dunning, or `POST /payment_requests`)."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="payment_requests")
    campaign = models.ForeignKey(
        DunningCampaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="payment_requests"
    )
    attempt_number = models.PositiveIntegerField(default=0)
    email = models.CharField(max_length=1024, blank=True, default="")
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    # An invoice's payment status: Lago's payment requests share its values.
    payment_status = models.CharField(
        max_length=16, choices=DocumentPaymentStatus.choices, default=DocumentPaymentStatus.PENDING
    )
    invoices = models.ManyToManyField("invoicing.Invoice", related_name="payment_requests")
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # One dunning attempt at a time per customer and currency is held by locking the
        # customer's CustomerDunning row (unique per customer and currency).
        ordering = ["-created_at", "id"]


class CustomerDunning(BaseModel):
    """A customer's progress through dunning in one currency; `completed_at` flags the customer."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    currency = models.CharField(max_length=3)
    campaign = models.ForeignKey(DunningCampaign, on_delete=models.CASCADE, related_name="+")
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "currency"], name="customer_dunning_once_per_currency")
        ]


class PaymentReceiptCounter(models.Model):
    """The last receipt number given in an organization; its row lock makes the numbers gapless
    (the receipt is created in the same transaction as the increment)."""

    organization = models.OneToOneField("customers.Organization", on_delete=models.CASCADE, related_name="+")
    last_value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"receipts of {self.organization_id}: {self.last_value}"


class PaymentReceipt(BaseModel):
    """The receipt of one succeeded payment, numbered without gaps per organization."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="receipt")
    sequential_id = models.PositiveBigIntegerField()
    number = models.CharField(max_length=64)
    file = models.FileField(upload_to="payment_receipts/", blank=True, default="")
    file_generated_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sequential_id"], name="payment_receipt_number_unique"),
        ]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return self.number


class EmailKind(models.TextChoices):
    """Lago's `email_settings` values (an organization turns each on or off)."""

    INVOICE_FINALIZED = "invoice.finalized"
    CREDIT_NOTE_CREATED = "credit_note.created"
    PAYMENT_RECEIPT_CREATED = "payment_receipt.created"
    # bxb's own: a failed charge of an invoice (on/off in `email_settings` like Lago's kinds) and a
    # dunning reminder (a payment request; always e-mailed to the request's addresses, as Lago does).
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_REQUEST_CREATED = "payment_request.created"


class SentEmailStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # the last attempt failed; the task retries it


class SentEmail(BaseModel):
    """The sent-mail ledger: one row per document, kind and sending (`sequence` 0 is the automatic
    one, each resend adds one), so a document is e-mailed at most once per kind unless resent."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=EmailKind.choices)
    document_id = models.UUIDField()
    sequence = models.PositiveIntegerField(default=0)
    recipients = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=SentEmailStatus.choices, default=SentEmailStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "document_id", "sequence"], name="sent_email_once_per_document"),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.document_id} #{self.sequence} ({self.status})"
