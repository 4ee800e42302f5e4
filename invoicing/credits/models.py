"""Credits: wallets (prepaid credits) with their append-only transaction ledger and recurring top-up
rules, and credit notes with their items, taxes and the invoices that consumed their balance.

They belong to the invoicing app (`app_label = "invoicing"`, tables `invoicing_*`): `invoicing/models.py`
imports this module (at its end) so that Django registers them when it loads the app. Money is
integer minor units beside the wallet's or the invoice's currency; credits are decimals
(`credits × rate_amount` is money in major units). See docs/credits.md.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing_project.core.models import BaseModel, DecimalSpec
from customers.payment_choice import PaymentMethodChoiceFields
from customers.section_choice import SectionChoiceFields
from invoicing.models import AppliedTaxBase

CREDITS: DecimalSpec = {"max_digits": 40, "decimal_places": 5}
RATE: DecimalSpec = {"max_digits": 30, "decimal_places": 15}


class WalletStatus(models.TextChoices):
    ACTIVE = "active"
    TERMINATED = "terminated"


class Wallet(BaseModel, PaymentMethodChoiceFields, SectionChoiceFields):
    """A customer's prepaid credits in one currency.

    `balance_cents` / `credits_balance` are kept in step with the settled transactions under a row
    lock (`select_for_update`); the ledger (`WalletTransaction`) is the truth and never changes
    once settled.
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="wallets")
    name = models.CharField(max_length=255, blank=True, default="")
    code = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=WalletStatus.choices, default=WalletStatus.ACTIVE)
    currency = models.CharField(max_length=3)
    rate_amount = models.DecimalField(**RATE)
    priority = models.PositiveSmallIntegerField(default=50)
    balance_cents = models.BigIntegerField(default=0)
    credits_balance = models.DecimalField(**CREDITS, default=0)
    consumed_amount_cents = models.BigIntegerField(default=0)
    consumed_credits = models.DecimalField(**CREDITS, default=0)
    ongoing_balance_cents = models.BigIntegerField(default=0)
    ongoing_usage_balance_cents = models.BigIntegerField(default=0)
    credits_ongoing_balance = models.DecimalField(**CREDITS, default=0)
    credits_ongoing_usage_balance = models.DecimalField(**CREDITS, default=0)
    depleted_ongoing_balance = models.BooleanField(default=False)
    expiration_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    last_balance_sync_at = models.DateTimeField(null=True, blank=True)
    last_consumed_credit_at = models.DateTimeField(null=True, blank=True)
    applies_to_fee_types = models.JSONField(default=list, blank=True)
    applies_to_billable_metric_codes = models.JSONField(default=list, blank=True)
    invoice_requires_successful_payment = models.BooleanField(default=False)
    paid_top_up_min_amount_cents = models.BigIntegerField(null=True, blank=True)
    paid_top_up_max_amount_cents = models.BigIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Lago's `billing_entity_code` (the entity that bills its top-ups; null: the customer's) and
    # `purchase_order_number` (printed on its top-up invoices unless the top-up has its own).
    billing_entity = models.ForeignKey(
        "customers.BillingEntity", on_delete=models.PROTECT, null=True, blank=True, related_name="wallets"
    )
    purchase_order_number = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        app_label = "invoicing"
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["customer", "status"]),
            models.Index(fields=["status", "expiration_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(balance_cents__gte=0), name="wallet_balance_not_negative"),
            models.CheckConstraint(condition=Q(rate_amount__gt=0), name="wallet_rate_positive"),
            models.UniqueConstraint(
                fields=["customer", "code"],
                condition=Q(status="active") & ~Q(code=""),
                name="wallet_active_code_unique_per_customer",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.code or str(self.id)


class TransactionType(models.TextChoices):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class TransactionStatus(models.TextChoices):
    PURCHASED = "purchased"
    GRANTED = "granted"
    VOIDED = "voided"
    INVOICED = "invoiced"


class TransactionSettlement(models.TextChoices):
    PENDING = "pending"
    SETTLED = "settled"
    FAILED = "failed"


class TransactionSource(models.TextChoices):
    MANUAL = "manual"
    INTERVAL = "interval"
    THRESHOLD = "threshold"


class WalletTransaction(BaseModel, PaymentMethodChoiceFields, SectionChoiceFields):
    """One line of a wallet's ledger. Append-only: a pending line may settle or fail once."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="transactions")
    # The credit invoice of a purchase, or the invoice that consumed the credits.
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="wallet_transactions"
    )
    # A void of `invoice` that gave consumed credits back.
    voided_invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credit_note = models.ForeignKey(
        "invoicing.CreditNote", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A paid top-up's own purchase order number (else its wallet's) and custom sections (else its
    # wallet's, else the customer's), printed on its credit invoice.
    purchase_order_number = models.CharField(max_length=255, blank=True, default="")
    transaction_type = models.CharField(max_length=16, choices=TransactionType.choices)
    transaction_status = models.CharField(max_length=16, choices=TransactionStatus.choices)
    status = models.CharField(max_length=16, choices=TransactionSettlement.choices)
    source = models.CharField(max_length=16, choices=TransactionSource.choices, default=TransactionSource.MANUAL)
    amount_cents = models.BigIntegerField()
    credit_amount = models.DecimalField(**CREDITS)
    priority = models.PositiveSmallIntegerField(default=50)
    name = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(default=list, blank=True)  # [{key, value}]
    invoice_requires_successful_payment = models.BooleanField(default=False)
    settled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # What makes a recurring top-up run once per due time (`<rule id>:<period>`), or empty.
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    # A settled inbound line: what outbound lines have not consumed yet (`WalletTransactionConsumption`);
    # null on outbound and unsettled lines.
    remaining_amount_cents = models.BigIntegerField(null=True, blank=True)

    class Meta:
        app_label = "invoicing"
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["wallet", "-created_at"]), models.Index(fields=["organization", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gte=0), name="wallet_transaction_amount_not_negative"),
            models.CheckConstraint(condition=Q(credit_amount__gte=0), name="wallet_transaction_credits_not_negative"),
            models.CheckConstraint(
                condition=Q(remaining_amount_cents__isnull=True)
                | Q(remaining_amount_cents__gte=0, transaction_type="inbound"),
                name="wallet_transaction_remaining_inbound_not_negative",
            ),
            # An invoice consumes a wallet once; a void gives it back once.
            models.UniqueConstraint(
                fields=["wallet", "invoice"],
                condition=Q(transaction_status="invoiced"),
                name="wallet_transaction_invoiced_once",
            ),
            models.UniqueConstraint(
                fields=["wallet", "voided_invoice"],
                condition=Q(voided_invoice__isnull=False),
                name="wallet_transaction_void_restore_once",
            ),
            models.UniqueConstraint(
                fields=["wallet", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="wallet_transaction_idempotency_key_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_type} {self.transaction_status} {self.credit_amount}"


class WalletTransactionConsumption(BaseModel):
    """`amount_cents` of an outbound line (credits invoiced or voided) funded by an inbound one.

    Written with the outbound line, in Lago's consumption order (`invoicing/credits/tracing.py`);
    the funded amounts of an outbound line add up to its `amount_cents`. Append-only.
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    inbound = models.ForeignKey(WalletTransaction, on_delete=models.PROTECT, related_name="consumptions")
    outbound = models.ForeignKey(WalletTransaction, on_delete=models.PROTECT, related_name="fundings")
    amount_cents = models.BigIntegerField()

    class Meta:
        app_label = "invoicing"
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="wallet_consumption_amount_positive"),
            models.UniqueConstraint(fields=["inbound", "outbound"], name="wallet_consumption_pair_once"),
        ]

    def __str__(self) -> str:
        return f"{self.inbound_id} -> {self.outbound_id}: {self.amount_cents}"


class RuleTrigger(models.TextChoices):
    INTERVAL = "interval"
    THRESHOLD = "threshold"


class RuleInterval(models.TextChoices):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    YEARLY = "yearly"


class RuleMethod(models.TextChoices):
    FIXED = "fixed"
    TARGET = "target"


class RecurringTransactionRule(BaseModel, PaymentMethodChoiceFields, SectionChoiceFields):
    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    wallet = models.ForeignKey(Wallet, on_delete=models.CASCADE, related_name="recurring_transaction_rules")
    trigger = models.CharField(max_length=16, choices=RuleTrigger.choices)
    interval = models.CharField(max_length=16, choices=RuleInterval.choices, blank=True, default="")
    method = models.CharField(max_length=16, choices=RuleMethod.choices, default=RuleMethod.FIXED)
    status = models.CharField(max_length=16, default="active")
    paid_credits = models.DecimalField(**CREDITS, default=0)
    granted_credits = models.DecimalField(**CREDITS, default=0)
    threshold_credits = models.DecimalField(**CREDITS, null=True, blank=True)
    target_ongoing_balance = models.DecimalField(**CREDITS, null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    expiration_at = models.DateTimeField(null=True, blank=True)
    transaction_metadata = models.JSONField(default=list, blank=True)
    transaction_name = models.CharField(max_length=255, blank=True, default="")
    ignore_paid_top_up_limits = models.BooleanField(default=False)
    # Its top-ups' purchase order number (else the wallet's) and sections (else the wallet's).
    purchase_order_number = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        app_label = "invoicing"
        ordering = ["created_at", "id"]


class CreditStatus(models.TextChoices):
    AVAILABLE = "available"
    CONSUMED = "consumed"
    VOIDED = "voided"


class RefundStatus(models.TextChoices):
    """A credit note's `refund_status`, and the status of each provider refund of it (`payments.Refund`)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CreditNoteReason(models.TextChoices):
    DUPLICATED_CHARGE = "duplicated_charge"
    PRODUCT_UNSATISFACTORY = "product_unsatisfactory"
    ORDER_CHANGE = "order_change"
    ORDER_CANCELLATION = "order_cancellation"
    FRAUDULENT_CHARGE = "fraudulent_charge"
    OTHER = "other"


class CreditNote(BaseModel):
    """A correction of a finalized invoice: credited (a balance later invoices consume), refunded
    (handed to payments, `pending` until settled) and/or offset (less due on the invoice)."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="credit_notes")
    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT, related_name="credit_notes")
    sequential_id = models.PositiveIntegerField()
    number = models.CharField(max_length=80)
    issuing_date = models.DateField()
    credit_status = models.CharField(max_length=16, choices=CreditStatus.choices, null=True, blank=True)
    refund_status = models.CharField(max_length=16, choices=RefundStatus.choices, null=True, blank=True)
    reason = models.CharField(max_length=32, choices=CreditNoteReason.choices, default=CreditNoteReason.OTHER)
    description = models.TextField(blank=True, default="")
    currency = models.CharField(max_length=3)
    total_amount_cents = models.BigIntegerField(default=0)
    credit_amount_cents = models.BigIntegerField(default=0)
    balance_amount_cents = models.BigIntegerField(default=0)
    refund_amount_cents = models.BigIntegerField(default=0)
    offset_amount_cents = models.BigIntegerField(default=0)
    taxes_amount_cents = models.BigIntegerField(default=0)
    precise_taxes_amount_cents = models.DecimalField(max_digits=40, decimal_places=5, default=0)
    taxes_rate = models.DecimalField(max_digits=20, decimal_places=5, default=0)
    sub_total_excluding_taxes_amount_cents = models.BigIntegerField(default=0)
    coupons_adjustment_amount_cents = models.BigIntegerField(default=0)
    precise_coupons_adjustment_amount_cents = models.DecimalField(max_digits=40, decimal_places=5, default=0)
    metadata = models.JSONField(default=dict, blank=True)
    automatic = models.BooleanField(default=False)  # issued by a plan change or a termination
    voided_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to="credit_notes/%Y/%m/", blank=True, default="")

    class Meta:
        app_label = "invoicing"
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["customer", "credit_status"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "sequential_id"], name="credit_note_sequence_per_invoice"),
            models.CheckConstraint(condition=Q(balance_amount_cents__gte=0), name="credit_note_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(balance_amount_cents__lte=models.F("credit_amount_cents")),
                name="credit_note_balance_within_credit",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNoteItem(BaseModel):
    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="items")
    fee = models.ForeignKey("invoicing.Fee", on_delete=models.PROTECT, related_name="credit_note_items")
    amount_cents = models.BigIntegerField()
    precise_amount_cents = models.DecimalField(max_digits=40, decimal_places=5)
    amount_currency = models.CharField(max_length=3)

    class Meta:
        app_label = "invoicing"
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gte=0), name="credit_note_item_not_negative"),
        ]


class CreditNoteAppliedTax(AppliedTaxBase):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="applied_taxes")
    base_amount_cents = models.BigIntegerField(default=0)

    class Meta(AppliedTaxBase.Meta):
        app_label = "invoicing"


class CreditNoteConsumption(BaseModel):
    """A later invoice consumed part of a credit note's balance (append-only; voiding the invoice
    gives it back with a `restored` line)."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="consumptions")
    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT, related_name="+")
    amount_cents = models.BigIntegerField()
    restored = models.BooleanField(default=False)

    class Meta:
        app_label = "invoicing"
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_note", "invoice", "restored"], name="credit_note_consumption_once_per_invoice"
            ),
        ]
