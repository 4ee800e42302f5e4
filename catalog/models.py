"""The catalog: billable metrics, plans and their charges, taxes, coupons and add-ons.

Money is integer cents beside an ISO currency; prices inside `Charge.properties` are decimal
strings (Lago's shape); decimals elsewhere are `DecimalField`. Rows that Lago soft-deletes are
`SoftDeleteModel`s (`deleted_at`; the `objects` manager returns every row, `live` only the undeleted ones).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing_project.core.models import BaseModel, SoftDeleteModel, unique_live

# --- billable metrics -------------------------------------------------------------------------


class AggregationType(models.TextChoices):
    COUNT = "count_agg"
    SUM = "sum_agg"
    MAX = "max_agg"
    UNIQUE_COUNT = "unique_count_agg"
    LATEST = "latest_agg"
    WEIGHTED_SUM = "weighted_sum_agg"
    CUSTOM = "custom_agg"


class WeightedInterval(models.TextChoices):
    SECONDS = "seconds"


class RoundingFunction(models.TextChoices):
    ROUND = "round"
    CEIL = "ceil"
    FLOOR = "floor"


class BillableMetric(SoftDeleteModel):
    organization = models.ForeignKey(
        "customers.Organization", on_delete=models.PROTECT, related_name="billable_metrics"
    )
    name = models.CharField(max_length=255)
    code = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    aggregation_type = models.CharField(max_length=32, choices=AggregationType.choices)
    field_name = models.CharField(max_length=255, null=True, blank=True)
    recurring = models.BooleanField(default=False)
    weighted_interval = models.CharField(max_length=16, choices=WeightedInterval.choices, null=True, blank=True)
    rounding_function = models.CharField(max_length=8, choices=RoundingFunction.choices, null=True, blank=True)
    rounding_precision = models.IntegerField(null=True, blank=True)
    expression = models.TextField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [unique_live("organization", "code", name="billable_metric_code_unique_live")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class BillableMetricFilter(SoftDeleteModel):
    """A dimension of a metric (`region`) and the values events may carry (`["us", "eu"]`)."""

    billable_metric = models.ForeignKey(BillableMetric, on_delete=models.CASCADE, related_name="filters")
    key = models.CharField(max_length=255)
    values = models.JSONField(default=list)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [unique_live("billable_metric", "key", name="billable_metric_filter_key_unique_live")]

    def __str__(self) -> str:
        return f"{self.key}: {', '.join(map(str, self.values))}"


# --- taxes ------------------------------------------------------------------------------------


class Tax(BaseModel):
    """A tax rate in percent (`20.0000` = 20 %). Lago deletes taxes for good (no soft delete)."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="taxes")
    code = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    rate = models.DecimalField(max_digits=10, decimal_places=4)
    description = models.TextField(blank=True, default="")
    applied_to_organization = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "taxes"
        ordering = ["-created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="tax_code_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code}, {self.rate.normalize()} %)"


class CustomerTax(BaseModel):
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="tax_links")
    tax = models.ForeignKey(Tax, on_delete=models.CASCADE, related_name="customer_links")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["customer", "tax"], name="customer_tax_unique")]


class BillingEntityTax(BaseModel):
    """A default tax of a billing entity other than the organization's default one (whose default
    taxes are the organization's, `Tax.applied_to_organization`)."""

    billing_entity = models.ForeignKey("customers.BillingEntity", on_delete=models.CASCADE, related_name="tax_links")
    tax = models.ForeignKey(Tax, on_delete=models.CASCADE, related_name="billing_entity_links")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["billing_entity", "tax"], name="billing_entity_tax_unique")]


# --- plans and charges ------------------------------------------------------------------------


class PlanInterval(models.TextChoices):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    YEARLY = "yearly"


class Plan(SoftDeleteModel):
    """A price list. `parent` is set on per-subscription copies (plan overrides)."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="plans")
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    name = models.CharField(max_length=255)
    code = models.CharField(max_length=255)
    interval = models.CharField(max_length=16, choices=PlanInterval.choices)
    description = models.TextField(blank=True, default="")
    invoice_display_name = models.CharField(max_length=255, blank=True, default="")
    amount_cents = models.BigIntegerField(default=0)
    amount_currency = models.CharField(max_length=3)
    pay_in_advance = models.BooleanField(default=False)
    trial_period = models.DecimalField(max_digits=12, decimal_places=5, default=0, help_text="Days.")
    bill_charges_monthly = models.BooleanField(null=True, blank=True)
    bill_fixed_charges_monthly = models.BooleanField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    taxes = models.ManyToManyField(Tax, through="PlanTax", related_name="plans", blank=True)
    pending_deletion = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # Overrides (children) share their parent's code; only parents must be unique.
            unique_live("organization", "code", name="plan_code_unique_live", parent__isnull=True),
            models.CheckConstraint(condition=Q(amount_cents__gte=0), name="plan_amount_cents_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class PlanTax(BaseModel):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="tax_links")
    tax = models.ForeignKey(Tax, on_delete=models.CASCADE, related_name="plan_links")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["plan", "tax"], name="plan_tax_unique")]


class CommitmentType(models.TextChoices):
    MINIMUM_COMMITMENT = "minimum_commitment"


class Commitment(BaseModel):
    """A plan's minimum commitment: the least the period's fees add up to (docs/billing-semantics.md §5.8)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="commitments")
    commitment_type = models.CharField(
        max_length=32, choices=CommitmentType.choices, default=CommitmentType.MINIMUM_COMMITMENT
    )
    amount_cents = models.BigIntegerField()
    invoice_display_name = models.CharField(max_length=255, blank=True, default="")
    taxes = models.ManyToManyField(Tax, through="CommitmentTax", related_name="commitments", blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "commitment_type"], name="commitment_type_unique_per_plan"),
            models.CheckConstraint(condition=Q(amount_cents__gte=0), name="commitment_amount_cents_not_negative"),
        ]


class CommitmentTax(BaseModel):
    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="tax_links")
    tax = models.ForeignKey(Tax, on_delete=models.CASCADE, related_name="commitment_links")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["commitment", "tax"], name="commitment_tax_unique")]


class UsageThreshold(SoftDeleteModel):
    """Progressive billing: invoice when lifetime usage reaches `amount_cents` (docs/billing-semantics.md §10)."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="usage_thresholds")
    amount_cents = models.BigIntegerField()
    threshold_display_name = models.CharField(max_length=255, blank=True, default="")
    recurring = models.BooleanField(default=False)

    class Meta:
        ordering = ["amount_cents", "created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="usage_threshold_amount_positive"),
            unique_live("plan", "amount_cents", "recurring", name="usage_threshold_unique_live"),
        ]


class ChargeModel(models.TextChoices):
    STANDARD = "standard"
    GRADUATED = "graduated"
    VOLUME = "volume"
    PACKAGE = "package"
    PERCENTAGE = "percentage"
    GRADUATED_PERCENTAGE = "graduated_percentage"
    DYNAMIC = "dynamic"


class RegroupPaidFees(models.TextChoices):
    INVOICE = "invoice"


class Charge(SoftDeleteModel):
    """A usage-based price of a plan on one billable metric.

    `properties` holds the model's parameters as Lago sends them (amounts are decimal strings);
    `pricing_group_keys` the event properties whose distinct values are priced separately.
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="charges")
    billable_metric = models.ForeignKey(BillableMetric, on_delete=models.PROTECT, related_name="charges")
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children")
    code = models.CharField(max_length=255)
    charge_model = models.CharField(max_length=32, choices=ChargeModel.choices)
    pay_in_advance = models.BooleanField(default=False)
    invoiceable = models.BooleanField(default=True)
    prorated = models.BooleanField(default=False)
    regroup_paid_fees = models.CharField(max_length=16, choices=RegroupPaidFees.choices, null=True, blank=True)
    min_amount_cents = models.BigIntegerField(default=0)
    properties = models.JSONField(default=dict, blank=True)
    pricing_group_keys = models.JSONField(default=list, blank=True)
    invoice_display_name = models.CharField(max_length=255, blank=True, default="")
    accepts_target_wallet = models.BooleanField(default=False)
    taxes = models.ManyToManyField(Tax, through="ChargeTax", related_name="charges", blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            unique_live("plan", "code", name="charge_code_unique_per_plan_live"),
            models.CheckConstraint(condition=Q(min_amount_cents__gte=0), name="charge_min_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.charge_model})"


class ChargeTax(BaseModel):
    charge = models.ForeignKey(Charge, on_delete=models.CASCADE, related_name="tax_links")
    tax = models.ForeignKey(Tax, on_delete=models.CASCADE, related_name="charge_links")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["charge", "tax"], name="charge_tax_unique")]


ALL_FILTER_VALUES = "__ALL_FILTER_VALUES__"


class ChargeFilter(SoftDeleteModel):
    """A priced bucket of a charge: `values` = `{metric filter key: [values] | ["__ALL_FILTER_VALUES__"]}`.

    Events that match no filter of the charge are priced with the charge's own properties.
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    charge = models.ForeignKey(Charge, on_delete=models.CASCADE, related_name="filters")
    values = models.JSONField(default=dict)
    properties = models.JSONField(default=dict, blank=True)
    invoice_display_name = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return ", ".join(f"{key}={'|'.join(map(str, vals))}" for key, vals in sorted(self.values.items()))


# --- add-ons ----------------------------------------------------------------------------------


class AddOn(SoftDeleteModel):
    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="add_ons")
    name = models.CharField(max_length=255)
    code = models.CharField(max_length=255)
    invoice_display_name = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")
    amount_cents = models.BigIntegerField()
    amount_currency = models.CharField(max_length=3)
    taxes = models.ManyToManyField(Tax, through="AddOnTax", related_name="add_ons", blank=True)

    class Meta:
        verbose_name = "add-on"
        ordering = ["-created_at", "id"]
        constraints = [
            unique_live("organization", "code", name="add_on_code_unique_live"),
            models.CheckConstraint(condition=Q(amount_cents__gte=0), name="add_on_amount_cents_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class AddOnTax(BaseModel):
    add_on = models.ForeignKey(AddOn, on_delete=models.CASCADE, related_name="tax_links")
    tax = models.ForeignKey(Tax, on_delete=models.CASCADE, related_name="add_on_links")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["add_on", "tax"], name="add_on_tax_unique")]


# --- fixed charges ----------------------------------------------------------------------------


class FixedChargeModel(models.TextChoices):
    STANDARD = "standard"
    GRADUATED = "graduated"
    VOLUME = "volume"


class FixedCharge(SoftDeleteModel):
    """A quantity of an add-on billed every period of a plan (seats, a platform fee times units).

    `units` is the plan's default quantity; a subscription's own quantity over time is kept by the
    subscriptions app (docs/billing-semantics.md §5.9). `properties` hold the charge model's
    parameters as Lago sends them. `parent` is set on the copies a per-subscription plan override
    holds.
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="fixed_charges")
    add_on = models.ForeignKey(AddOn, on_delete=models.PROTECT, related_name="fixed_charges")
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children")
    code = models.CharField(max_length=255)
    charge_model = models.CharField(max_length=16, choices=FixedChargeModel.choices)
    invoice_display_name = models.CharField(max_length=255, blank=True, default="")
    units = models.DecimalField(max_digits=30, decimal_places=10, default=0)
    pay_in_advance = models.BooleanField(default=False)
    prorated = models.BooleanField(default=False)
    properties = models.JSONField(default=dict, blank=True)
    taxes: models.ManyToManyField[Tax, FixedChargeTax] = models.ManyToManyField(
        Tax, through="FixedChargeTax", related_name="fixed_charges", blank=True
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            unique_live("plan", "code", name="fixed_charge_code_unique_per_plan_live"),
            models.CheckConstraint(condition=Q(units__gte=0), name="fixed_charge_units_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.charge_model})"


class FixedChargeTax(BaseModel):
    fixed_charge = models.ForeignKey(FixedCharge, on_delete=models.CASCADE, related_name="tax_links")
    tax = models.ForeignKey(Tax, on_delete=models.CASCADE, related_name="fixed_charge_links")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["fixed_charge", "tax"], name="fixed_charge_tax_unique")]


# --- coupons ----------------------------------------------------------------------------------


class CouponType(models.TextChoices):
    FIXED_AMOUNT = "fixed_amount"
    PERCENTAGE = "percentage"


class CouponFrequency(models.TextChoices):
    ONCE = "once"
    RECURRING = "recurring"
    FOREVER = "forever"


class CouponExpiration(models.TextChoices):
    NO_EXPIRATION = "no_expiration"
    TIME_LIMIT = "time_limit"


class CouponStatus(models.TextChoices):
    ACTIVE = "active"
    TERMINATED = "terminated"


class Coupon(SoftDeleteModel):
    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="coupons")
    name = models.CharField(max_length=255)
    code = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    coupon_type = models.CharField(max_length=16, choices=CouponType.choices)
    amount_cents = models.BigIntegerField(null=True, blank=True)
    amount_currency = models.CharField(max_length=3, null=True, blank=True)
    percentage_rate = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    frequency = models.CharField(max_length=16, choices=CouponFrequency.choices, default=CouponFrequency.ONCE)
    frequency_duration = models.PositiveIntegerField(null=True, blank=True)
    expiration = models.CharField(max_length=16, choices=CouponExpiration.choices)
    expiration_at = models.DateTimeField(null=True, blank=True)
    reusable = models.BooleanField(default=True)
    limited_plans = models.BooleanField(default=False)
    limited_billable_metrics = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=CouponStatus.choices, default=CouponStatus.ACTIVE)
    terminated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [unique_live("organization", "code", name="coupon_code_unique_live")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class CouponTarget(BaseModel):
    """What a limited coupon applies to: a plan or a billable metric (never both on one coupon)."""

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="targets")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, null=True, blank=True, related_name="coupon_targets")
    billable_metric = models.ForeignKey(
        BillableMetric, on_delete=models.CASCADE, null=True, blank=True, related_name="coupon_targets"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(plan__isnull=False) & Q(billable_metric__isnull=True))
                | (Q(plan__isnull=True) & Q(billable_metric__isnull=False)),
                name="coupon_target_exactly_one",
            ),
            models.UniqueConstraint(fields=["coupon", "plan"], name="coupon_target_plan_unique"),
            models.UniqueConstraint(fields=["coupon", "billable_metric"], name="coupon_target_metric_unique"),
        ]


class AppliedCoupon(BaseModel):
    """A coupon applied to a customer, with the customer's overrides.

    Invoicing consumes it: `amount_cents_remaining` (fixed amount, `once`) and
    `frequency_duration_remaining` (`recurring`) are decremented under a row lock.
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="applied_coupons")
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="applied_coupons")
    amount_cents = models.BigIntegerField(null=True, blank=True)
    amount_cents_remaining = models.BigIntegerField(null=True, blank=True)
    amount_currency = models.CharField(max_length=3, null=True, blank=True)
    percentage_rate = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    frequency = models.CharField(max_length=16, choices=CouponFrequency.choices)
    frequency_duration = models.PositiveIntegerField(null=True, blank=True)
    frequency_duration_remaining = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=CouponStatus.choices, default=CouponStatus.ACTIVE)
    terminated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["customer", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_cents_remaining__isnull=True) | Q(amount_cents_remaining__gte=0),
                name="applied_coupon_remaining_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon.code} → {self.customer}"
