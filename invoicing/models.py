"""Invoices, their fees and taxes, the periods they bill, numbering counters and billing runs.

Money is integer minor units (`*_amount_cents`, BigIntegerField) beside the invoice currency;
precise amounts are decimals kept at Lago's 5 places. A finalized invoice never changes except
for its payment status, overdue flag, metadata, file and voiding (docs/invoicing.md §4).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol, Self

from django.db import models
from django.db.models import Q

from billing_project.core.bulk import new_row
from billing_project.core.models import BaseModel, DecimalSpec
from customers.payment_choice import PaymentMethodChoiceFields

PRECISE: DecimalSpec = {"max_digits": 40, "decimal_places": 5}
UNITS: DecimalSpec = {"max_digits": 40, "decimal_places": 10}


class InvoiceType(models.TextChoices):
    SUBSCRIPTION = "subscription"
    ADD_ON = "add_on"
    CREDIT = "credit"
    ONE_OFF = "one_off"
    ADVANCE_CHARGES = "advance_charges"
    PROGRESSIVE_BILLING = "progressive_billing"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft"
    FINALIZED = "finalized"
    VOIDED = "voided"
    FAILED = "failed"
    PENDING = "pending"
    CLOSED = "closed"  # zero-amount invoice skipped by finalize_zero_amount_invoice (never listed)
    # A draft deleted (`DELETE /invoices/{id}`): never listed nor found; its billing periods stay, so
    # they are not billed again (docs/invoicing.md §4).
    DELETED = "deleted"


# Statuses of invoices no route lists or finds, whose fees count for nothing.
HIDDEN_STATUSES = (InvoiceStatus.CLOSED, InvoiceStatus.DELETED)


class PaymentStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class InvoicingReason(models.TextChoices):
    SUBSCRIPTION_STARTING = "subscription_starting"
    SUBSCRIPTION_PERIODIC = "subscription_periodic"
    SUBSCRIPTION_TERMINATING = "subscription_terminating"
    IN_ADVANCE_CHARGE = "in_advance_charge"
    IN_ADVANCE_CHARGE_PERIODIC = "in_advance_charge_periodic"
    PROGRESSIVE_BILLING = "progressive_billing"


class FeeType(models.TextChoices):
    CHARGE = "charge"
    ADD_ON = "add_on"
    SUBSCRIPTION = "subscription"
    CREDIT = "credit"
    COMMITMENT = "commitment"
    FIXED_CHARGE = "fixed_charge"


class Invoice(BaseModel, PaymentMethodChoiceFields):
    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="invoices")
    invoice_type = models.CharField(max_length=24, choices=InvoiceType.choices, default=InvoiceType.SUBSCRIPTION)
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    payment_status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    payment_overdue = models.BooleanField(default=False)
    number = models.CharField(max_length=64, default="")
    # Per-customer sequence (numbering per_customer) and organization-wide sequence (per_organization);
    # both are assigned at finalization from locked counters, so they are gapless.
    sequential_id = models.BigIntegerField(null=True, blank=True)
    organization_sequential_id = models.BigIntegerField(null=True, blank=True)
    # The entity that bills (the customer's when the invoice is written; docs/billing-entities.md)
    # and its own sequence (numbering per_billing_entity), assigned at finalization too.
    billing_entity = models.ForeignKey(
        "customers.BillingEntity", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    billing_entity_sequential_id = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    issuing_date = models.DateField()
    payment_due_date = models.DateField()
    net_payment_term = models.PositiveIntegerField(default=0)
    # When a draft finalizes by itself (end of the grace period); null for other invoices.
    finalize_at = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    payment_overdue_at = models.DateTimeField(null=True, blank=True)
    # A payment dispute lost (`POST /invoices/{id}/lose_dispute`, or the provider's lost dispute).
    payment_dispute_lost_at = models.DateTimeField(null=True, blank=True)
    version_number = models.PositiveIntegerField(default=4)

    fees_amount_cents = models.BigIntegerField(default=0)
    coupons_amount_cents = models.BigIntegerField(default=0)
    progressive_billing_credit_amount_cents = models.BigIntegerField(default=0)
    sub_total_excluding_taxes_amount_cents = models.BigIntegerField(default=0)
    taxes_amount_cents = models.BigIntegerField(default=0)
    taxes_rate = models.DecimalField(max_digits=20, decimal_places=5, default=0)
    sub_total_including_taxes_amount_cents = models.BigIntegerField(default=0)
    credit_notes_amount_cents = models.BigIntegerField(default=0)
    prepaid_credit_amount_cents = models.BigIntegerField(default=0)
    total_amount_cents = models.BigIntegerField(default=0)
    total_paid_amount_cents = models.BigIntegerField(default=0)
    # Credit notes' offset parts: less due on this invoice (docs/credits.md).
    total_offsetted_credit_note_amount_cents = models.BigIntegerField(default=0)

    purchase_order_number = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(default=list, blank=True)  # [{id, key, value, created_at}]
    credits = models.JSONField(default=list, blank=True)  # Lago's invoice.credits[] at finalization
    # The invoice custom sections printed on it, as they read at finalization (Lago's
    # `applied_invoice_custom_sections`: [{lago_id, code, display_name, details, created_at}]).
    applied_invoice_custom_sections = models.JSONField(default=list, blank=True)
    # Which sections it will print, decided when it is created from what its subscriptions, the
    # one-off request or the wallet top-up chose (customers.section_choice.InvoiceSections): these
    # sections and, when `with_customer_sections`, the customer's applicable ones.
    invoice_custom_section_ids = models.JSONField(default=list, blank=True)
    with_customer_sections = models.BooleanField(default=True)
    file = models.FileField(upload_to="invoices/%Y/%m/", blank=True, default="")
    file_generated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issuing_date", "-created_at"]
        indexes = [
            models.Index(fields=["organization", "-issuing_date", "-created_at"]),
            # A customer's invoices, newest first (GET /invoices?external_customer_id=): no sort, and the count.
            models.Index(
                fields=["organization", "customer", "-issuing_date", "-created_at"], name="invoice_customer_issuing_idx"
            ),
            models.Index(fields=["organization", "status"]),
            models.Index(fields=["status", "finalize_at"]),
            models.Index(fields=["status", "payment_status", "payment_due_date"]),
            # The missing-PDF sweeper (documents_missing_pdf): only the few rows without a file.
            models.Index(fields=["finalized_at"], condition=Q(file=""), name="invoice_pdf_missing"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "sequential_id"],
                condition=Q(sequential_id__isnull=False),
                name="invoice_sequential_id_unique_per_customer",
            ),
            models.UniqueConstraint(
                fields=["organization", "organization_sequential_id"],
                condition=Q(organization_sequential_id__isnull=False),
                name="invoice_org_sequential_id_unique",
            ),
            models.UniqueConstraint(
                fields=["billing_entity", "billing_entity_sequential_id"],
                condition=Q(billing_entity_sequential_id__isnull=False),
                name="invoice_entity_sequential_id_unique",
            ),
            models.CheckConstraint(condition=Q(total_amount_cents__gte=0), name="invoice_total_not_negative"),
            models.CheckConstraint(condition=Q(fees_amount_cents__gte=0), name="invoice_fees_not_negative"),
        ]

    def __str__(self) -> str:
        return self.number or str(self.id)

    @property
    def total_due_amount_cents(self) -> int:
        return amount_left_to_pay(self)


def amount_left_to_pay(invoice: Any) -> int:
    """Lago's `total_due_amount_cents` of an invoice (an `Invoice`, or a row holding the same
    fields: `invoicing.representation.InvoiceListRow`): nothing on a voided one, else its total
    less what was paid and what credit notes offset, never below zero."""
    if invoice.status == InvoiceStatus.VOIDED:
        return 0
    return max(
        invoice.total_amount_cents - invoice.total_paid_amount_cents - invoice.total_offsetted_credit_note_amount_cents,
        0,
    )


class InvoiceSubscription(BaseModel):
    """One billing period of one subscription on an invoice (Lago's `billing_periods[]`).

    The unique constraint is the heart of exactly-once billing: a subscription's period can be
    invoiced once per reason, whatever the number of workers, retries or crashes.
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="invoice_subscriptions")
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, related_name="invoice_subscriptions"
    )
    invoicing_reason = models.CharField(max_length=32, choices=InvoicingReason.choices)
    # The instant the period became due (the billing boundary).
    timestamp = models.DateTimeField()
    from_datetime = models.DateTimeField()  # base-fee period, half-open [from, to)
    to_datetime = models.DateTimeField()
    charges_from_datetime = models.DateTimeField()  # usage window, half-open
    charges_to_datetime = models.DateTimeField()

    class Meta:
        ordering = ["timestamp", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "subscription",
                    "invoicing_reason",
                    "from_datetime",
                    "to_datetime",
                    "charges_from_datetime",
                    "charges_to_datetime",
                ],
                name="invoice_subscription_period_once",
            )
        ]
        indexes = [models.Index(fields=["subscription", "-charges_to_datetime"])]


class Fee(BaseModel):
    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, null=True, blank=True, related_name="fees")
    invoice_subscription = models.ForeignKey(
        InvoiceSubscription, on_delete=models.CASCADE, null=True, blank=True, related_name="fees"
    )
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    charge = models.ForeignKey("catalog.Charge", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    charge_filter = models.ForeignKey(
        "catalog.ChargeFilter", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    add_on = models.ForeignKey("catalog.AddOn", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    commitment = models.ForeignKey(
        "catalog.Commitment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fixed_charge = models.ForeignKey(
        "catalog.FixedCharge", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    true_up_parent_fee = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="true_up_fees"
    )
    fee_type = models.CharField(max_length=16, choices=FeeType.choices)
    invoice_display_name = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")
    currency = models.CharField(max_length=3)
    units = models.DecimalField(**UNITS, default=0)
    total_aggregated_units = models.DecimalField(**UNITS, default=0)
    events_count = models.BigIntegerField(default=0)
    unit_amount_cents = models.BigIntegerField(default=0)
    precise_unit_amount = models.DecimalField(**UNITS, default=0)  # major units
    amount_cents = models.BigIntegerField(default=0)
    precise_amount_cents = models.DecimalField(**PRECISE, default=0)
    precise_coupons_amount_cents = models.DecimalField(**PRECISE, default=0)
    precise_credit_notes_amount_cents = models.DecimalField(**PRECISE, default=0)
    taxes_amount_cents = models.BigIntegerField(default=0)
    taxes_precise_amount_cents = models.DecimalField(**PRECISE, default=0)
    taxes_rate = models.DecimalField(max_digits=20, decimal_places=5, default=0)
    grouped_by = models.JSONField(default=dict, blank=True)
    properties = models.JSONField(default=dict, blank=True)  # from/to datetimes of the fee's service
    amount_details = models.JSONField(default=dict, blank=True)  # the pricing breakdown
    pay_in_advance = models.BooleanField(default=False)
    invoiceable = models.BooleanField(default=True)
    payment_status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    # A fee not on an invoice deleted by `DELETE /fees/{id}` (Lago discards it): it stays, so its
    # event is never billed in advance again, and counts for nothing (docs/invoicing.md §6).
    deleted_at = models.DateTimeField(null=True, blank=True)
    event_transaction_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["invoice", "fee_type"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gte=0), name="fee_amount_not_negative"),
            # A pay-in-advance event is billed once per charge (§5.3), however often the task runs.
            models.UniqueConstraint(
                fields=["subscription", "charge", "event_transaction_id"],
                condition=~Q(event_transaction_id=""),
                name="fee_pay_in_advance_event_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fee_type} {self.amount_cents} {self.currency}"

    @classmethod
    def of_subscription(cls, subscription: Any, **fields: Any) -> Fee:
        """An unsaved fee of `subscription`, in its organization and for its customer."""
        return new_row(
            cls,
            organization_id=subscription.organization_id,
            customer_id=subscription.customer_id,
            subscription=subscription,
            **fields,
        )

    @staticmethod
    def charge_name(charge: Any, charge_filter: Any = None) -> str:
        """The name a charge's fee is shown with: its filter's display name, else the charge's, else
        its billable metric's name."""
        if charge_filter is not None and charge_filter.invoice_display_name:
            return str(charge_filter.invoice_display_name)
        return str(charge.invoice_display_name or charge.billable_metric.name)

    @property
    def total_amount_cents(self) -> int:
        return self.amount_cents + self.taxes_amount_cents


class AppliedTaxBase(BaseModel):
    """A tax as it was applied to a fee, an invoice or a credit note: the tax's code, name, rate
    and description copied at the time (the tax may change or go later) and the amount it took."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    tax = models.ForeignKey("catalog.Tax", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    tax_code = models.CharField(max_length=255)
    tax_name = models.CharField(max_length=255)
    tax_rate = models.DecimalField(max_digits=10, decimal_places=4)
    tax_description = models.TextField(blank=True, default="")
    amount_cents = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]

    @classmethod
    def copied(cls, applied: CalculatedTax, *, tax_id: Any, currency: str, **fields: Any) -> Self:
        """The unsaved row of a tax as the calculation applied it (`invoicing.calculation`), with
        the row's own `fields` (its organization, what it belongs to, its base or precise amount)."""
        return new_row(
            cls,
            tax_id=tax_id,
            tax_code=applied.tax_code,
            tax_name=applied.tax_name,
            tax_rate=applied.tax_rate,
            tax_description=applied.tax_description,
            amount_cents=applied.amount_cents,
            currency=currency,
            **fields,
        )


class CalculatedTax(Protocol):
    """A tax as `invoicing.calculation` applied it to a fee, an invoice or a credit note."""

    @property
    def tax_code(self) -> str: ...
    @property
    def tax_name(self) -> str: ...
    @property
    def tax_rate(self) -> Decimal: ...
    @property
    def tax_description(self) -> str: ...
    @property
    def amount_cents(self) -> int: ...


class FeeAppliedTax(AppliedTaxBase):
    fee = models.ForeignKey(Fee, on_delete=models.CASCADE, related_name="applied_taxes")
    precise_amount_cents = models.DecimalField(**PRECISE, default=0)

    class Meta(AppliedTaxBase.Meta):
        pass


class InvoiceAppliedTax(AppliedTaxBase):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="applied_taxes")
    fees_amount_cents = models.BigIntegerField(default=0)

    class Meta(AppliedTaxBase.Meta):
        pass


class NumberingScope(models.TextChoices):
    CUSTOMER = "customer"
    ORGANIZATION = "organization"
    BILLING_ENTITY = "billing_entity"


class InvoiceNumberCounter(BaseModel):
    """The last number handed out per customer, per billing entity, and per organization (customer
    and entity null).

    Finalization locks the row (`select_for_update`) and increments it in the same transaction as
    the invoice, so numbers are unique and gapless even with concurrent finalizations.
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    billing_entity = models.ForeignKey(
        "customers.BillingEntity", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    scope = models.CharField(max_length=16, choices=NumberingScope.choices)
    last_value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(customer__isnull=True, billing_entity__isnull=True),
                name="invoice_counter_org_once",
            ),
            models.UniqueConstraint(
                fields=["billing_entity"], condition=Q(billing_entity__isnull=False), name="invoice_counter_entity_once"
            ),
            models.UniqueConstraint(
                fields=["organization", "customer"],
                condition=Q(customer__isnull=False),
                name="invoice_counter_customer_once",
            ),
        ]


class BillingRunStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every batch reported and no customer failed
    FAILED = "failed"  # every batch reported, some customers failed (listed in `failures`)
    INCOMPLETE = "incomplete"  # some batches never reported (a worker died): listed in `missing`, retried


class BillingRun(BaseModel):
    """One sweep of the billing run (beat or `run_billing`): what was due, the batches it was cut
    into, what was invoiced, what failed and why, and what never reported. Read-only in the admin.
    A dry run writes no row (docs/invoicing.md, "The billing run")."""

    organization = models.ForeignKey(
        "customers.Organization", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    trigger = models.CharField(max_length=32, default="beat")  # beat, command, api, task
    at = models.DateTimeField(help_text="The instant the run billed up to.")
    dry_run = models.BooleanField(default=False)  # rows written before dry runs stopped writing rows
    status = models.CharField(max_length=16, choices=BillingRunStatus.choices, default=BillingRunStatus.RUNNING)
    customers_due = models.PositiveIntegerField(default=0)
    subscriptions_due = models.PositiveIntegerField(default=0)
    invoices_created = models.PositiveIntegerField(default=0)
    customers_failed = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True)  # [{customer_id, external_id, error}]
    batches_total = models.PositiveIntegerField(default=0)
    batches_reported = models.PositiveIntegerField(default=0)
    # Customers of the batches that had not reported at the last check (ids, at most 200 kept).
    customers_missing = models.PositiveIntegerField(default=0)
    missing = models.JSONField(default=list, blank=True)
    retries = models.PositiveIntegerField(default=0, help_text="Times the missing batches were sent again.")
    oldest_due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the oldest billing still due (not invoiced) by this run became due."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-at"], condition=Q(organization__isnull=True), name="billing_run_global_at")]

    def __str__(self) -> str:
        return f"billing run {self.at:%Y-%m-%d %H:%M} ({self.status})"


class BillingRunBatch(BaseModel):
    """A batch of a run's customers, billed by one `invoicing.bill_customers` task. `reported_at` is
    written in the transaction that commits the batch's invoices, so a batch is reported exactly
    when its work is in the database."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="batches")
    position = models.PositiveIntegerField()
    customer_ids = models.JSONField(default=list)
    reported_at = models.DateTimeField(null=True, blank=True)
    invoices_created = models.PositiveIntegerField(default=0)
    customers_failed = models.PositiveIntegerField(default=0)
    dispatches = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="billing_run_batch_once")]

    def __str__(self) -> str:
        return f"batch {self.position} of {self.run_id}"


# The credit models (wallets, credit notes) live in invoicing/credits/ and build on AppliedTaxBase;
# importing them here registers them with this app.
from invoicing.credits import models as credit_models  # noqa: E402, F401
