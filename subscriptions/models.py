"""Subscriptions (a customer on a plan) and the append-only ledger of their state transitions.

States and the transitions between them live in `subscriptions/state_machine.py`; rows change
only through `subscriptions/services.py`. Period boundaries come from `subscriptions/periods.py`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing_project.core.models import BaseModel
from customers.payment_choice import PaymentMethodChoiceFields
from customers.section_choice import SectionChoiceFields
from subscriptions.periods import BillingTime as PeriodBillingTime


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending"
    ACTIVE = "active"
    TERMINATED = "terminated"
    CANCELED = "canceled"


class BillingTime(models.TextChoices):
    CALENDAR = PeriodBillingTime.CALENDAR.value
    ANNIVERSARY = PeriodBillingTime.ANNIVERSARY.value


class OnTerminationCreditNote(models.TextChoices):
    CREDIT = "credit"
    REFUND = "refund"
    OFFSET = "offset"
    SKIP = "skip"


class OnTerminationInvoice(models.TextChoices):
    GENERATE = "generate"
    SKIP = "skip"


class TerminationReason(models.TextChoices):
    """Why a subscription ended: invoicing bills each case differently (docs/billing-semantics.md §5.6, §5.7)."""

    MANUAL = "manual"  # DELETE /subscriptions/{id} or the admin action
    UPGRADED = "upgraded"  # replaced now by a more expensive plan (its own day goes to the new plan)
    DOWNGRADED = "downgraded"  # replaced at the period end by a cheaper plan
    DOWNGRADED_NOW = "downgraded_now"  # bxb extra: replaced now by a cheaper plan, unused part credited
    ENDING_AT = "ending_at"  # reached its `ending_at`
    CUSTOMER_DELETED = "customer_deleted"
    PLAN_DELETED = "plan_deleted"


class Subscription(BaseModel, PaymentMethodChoiceFields, SectionChoiceFields):
    """One customer on one plan. A plan change creates a new row with the same `external_id`.

    At most one `active` and one `pending` row exist per (organization, external_id); a pending row
    is either a future start (`subscription_at` ahead) or a scheduled downgrade
    (`previous_subscription` is the active row it will replace at `activation_at`).
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="subscriptions")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="subscriptions")
    previous_subscription = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="next_subscriptions"
    )
    external_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING)
    billing_time = models.CharField(max_length=16, choices=BillingTime.choices, default=BillingTime.CALENDAR)
    # The requested start; it anchors anniversary periods and survives plan changes.
    subscription_at = models.DateTimeField()
    # When a pending row is due to start (its subscription_at, or the downgrade date).
    activation_at = models.DateTimeField(null=True, blank=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    trial_ends_at = models.DateTimeField(null=True, blank=True, db_index=True)
    trial_ended_at = models.DateTimeField(null=True, blank=True)
    ending_at = models.DateTimeField(null=True, blank=True, db_index=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    termination_reason = models.CharField(max_length=20, choices=TerminationReason.choices, blank=True, default="")
    cancellation_reason = models.CharField(max_length=64, blank=True, default="")
    on_termination_credit_note = models.CharField(
        max_length=10, choices=OnTerminationCreditNote.choices, null=True, blank=True
    )
    on_termination_invoice = models.CharField(
        max_length=10, choices=OnTerminationInvoice.choices, default=OnTerminationInvoice.GENERATE
    )
    # A back-dated start (subscription_at before the creation) without `bill_past_periods`: the
    # billing periods that ended before this instant are not billed; the one holding it is the
    # first (docs/subscriptions.md, "Back-dated subscriptions"). Null: every period since started_at.
    billing_from = models.DateTimeField(null=True, blank=True)
    # Days before `ending_at` for which `subscription.termination_alert` was already sent.
    termination_alerts_sent = models.JSONField(default=list, blank=True)
    # Lago's `billing_entity_code`: the entity that bills this subscription's invoices (null: the
    # customer's entity); and its `purchase_order_number`, printed on them. A billing day splits
    # a customer's invoice by both (docs/billing-entities.md §3).
    billing_entity = models.ForeignKey(
        "customers.BillingEntity", on_delete=models.PROTECT, null=True, blank=True, related_name="subscriptions"
    )
    purchase_order_number = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(status="active"),
                name="subscription_one_active_per_external_id",
            ),
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(status="pending"),
                name="subscription_one_pending_per_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "external_id", "status"]),
            models.Index(fields=["status", "activation_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.status})"

    @property
    def replaced_by_plan_change(self) -> bool:
        """Ended by an upgrade or a downgrade: the change day belongs to the next plan (§5.6), and a
        credit note for unused in-advance days is an `order_change`, not an `order_cancellation`."""
        return self.termination_reason in (
            TerminationReason.UPGRADED,
            TerminationReason.DOWNGRADED,
            TerminationReason.DOWNGRADED_NOW,
        )


class SubscriptionTransition(BaseModel):
    """Audit trail: who moved a subscription from which state to which, when and why. Append-only."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="transitions")
    event = models.CharField(max_length=32)
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16)
    actor = models.CharField(max_length=255, help_text="api_key:<prefix>, user:<username> or system:<job>.")
    reason = models.CharField(max_length=64, blank=True, default="")
    occurred_at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-created_at"]

    def __str__(self) -> str:
        return f"{self.event}: {self.from_status or '-'} → {self.to_status}"


class FixedChargeUnits(BaseModel):
    """A subscription's quantity of a fixed charge from `timestamp` on (append-only, Lago's fixed
    charge events). The units held at an instant are those of the latest row at or before it (the
    latest created wins between rows of one timestamp); without any row, the fixed charge's own
    `units`. Billing reads the rows of a period to prorate (docs/billing-semantics.md §5.9)."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="fixed_charge_units")
    fixed_charge = models.ForeignKey("catalog.FixedCharge", on_delete=models.PROTECT, related_name="+")
    units = models.DecimalField(max_digits=30, decimal_places=10)
    timestamp = models.DateTimeField()

    class Meta:
        ordering = ["timestamp", "created_at"]
        indexes = [models.Index(fields=["subscription", "fixed_charge", "timestamp"])]
        constraints = [models.CheckConstraint(condition=Q(units__gte=0), name="fixed_charge_units_not_negative_sub")]

    def __str__(self) -> str:
        return f"{self.units} from {self.timestamp:%Y-%m-%d}"
