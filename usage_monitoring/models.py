"""Usage alerts, lifetime usage and progressive billing (docs/billing-semantics.md §10, §11).

* `Alert` + `AlertThreshold`: what a customer wants to be told about, per subscription
  (`external_subscription_id`, so alerts survive upgrades and downgrades).
* `TriggeredAlert` (one per `alert.triggered` webhook) and `AlertCrossing` (one per crossed
  threshold point and period, unique: a threshold fires once per period, a recurring one once per
  step).
* `UsageActivity`: the "touched" marker ingestion writes per subscription; the evaluation task
  clears it (`processed_at`), the sweeper catches what a lost task missed.
* `LifetimeUsage`: per subscription chain (the first subscription of an upgrade/downgrade chain),
  with `external_historical_usage_amount_cents` and the last computed figures.
* `AppliedUsageThreshold`: one per progressive-billing threshold point crossed, unique per chain and
  amount, linked to the progressive invoice it produced.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing_project.core.models import BaseModel, SoftDeleteModel, unique_live
from invoicing.models import UNITS


class AlertType(models.TextChoices):
    CURRENT_USAGE_AMOUNT = "current_usage_amount"
    BILLABLE_METRIC_CURRENT_USAGE_AMOUNT = "billable_metric_current_usage_amount"
    BILLABLE_METRIC_CURRENT_USAGE_UNITS = "billable_metric_current_usage_units"
    LIFETIME_USAGE_AMOUNT = "lifetime_usage_amount"
    BILLABLE_METRIC_LIFETIME_USAGE_UNITS = "billable_metric_lifetime_usage_units"
    WALLET_BALANCE_AMOUNT = "wallet_balance_amount"
    WALLET_CREDITS_BALANCE = "wallet_credits_balance"
    WALLET_ONGOING_BALANCE_AMOUNT = "wallet_ongoing_balance_amount"
    WALLET_CREDITS_ONGOING_BALANCE = "wallet_credits_ongoing_balance"


# Wallet alerts watch a balance going down: a threshold fires when the balance falls to it or below.
WALLET_TYPES = {
    AlertType.WALLET_BALANCE_AMOUNT,
    AlertType.WALLET_CREDITS_BALANCE,
    AlertType.WALLET_ONGOING_BALANCE_AMOUNT,
    AlertType.WALLET_CREDITS_ONGOING_BALANCE,
}
SUBSCRIPTION_TYPES = {
    AlertType.CURRENT_USAGE_AMOUNT,
    AlertType.BILLABLE_METRIC_CURRENT_USAGE_AMOUNT,
    AlertType.BILLABLE_METRIC_CURRENT_USAGE_UNITS,
    AlertType.LIFETIME_USAGE_AMOUNT,
    AlertType.BILLABLE_METRIC_LIFETIME_USAGE_UNITS,
}
METRIC_TYPES = {
    AlertType.BILLABLE_METRIC_CURRENT_USAGE_AMOUNT,
    AlertType.BILLABLE_METRIC_CURRENT_USAGE_UNITS,
    AlertType.BILLABLE_METRIC_LIFETIME_USAGE_UNITS,
}
# Values of these types restart at every billing period; the others grow over the subscription's life.
PERIODIC_TYPES = {
    AlertType.CURRENT_USAGE_AMOUNT,
    AlertType.BILLABLE_METRIC_CURRENT_USAGE_AMOUNT,
    AlertType.BILLABLE_METRIC_CURRENT_USAGE_UNITS,
}
AMOUNT_TYPES = {
    AlertType.CURRENT_USAGE_AMOUNT,
    AlertType.BILLABLE_METRIC_CURRENT_USAGE_AMOUNT,
    AlertType.LIFETIME_USAGE_AMOUNT,
    AlertType.WALLET_BALANCE_AMOUNT,
    AlertType.WALLET_ONGOING_BALANCE_AMOUNT,
}


class Alert(SoftDeleteModel):
    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    # A subscription alert names its subscription's external id; a wallet alert its wallet ("" here).
    external_subscription_id = models.CharField(max_length=255, db_index=True, blank=True, default="")
    wallet = models.ForeignKey("invoicing.Wallet", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    billable_metric = models.ForeignKey(
        "catalog.BillableMetric", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    alert_type = models.CharField(max_length=48, choices=AlertType.choices)
    code = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True, default="")
    # The value seen by the last evaluation, and the period it belongs to (periodic types restart at 0).
    previous_value = models.DecimalField(**UNITS, default=0)
    period_key = models.CharField(max_length=64, blank=True, default="")
    last_processed_at = models.DateTimeField(null=True, blank=True)
    last_triggered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            unique_live(
                "organization",
                "external_subscription_id",
                "code",
                name="alert_code_unique_per_subscription",
                wallet__isnull=True,
            ),
            unique_live(
                "organization",
                "external_subscription_id",
                "alert_type",
                name="alert_type_unique_per_subscription",
                billable_metric__isnull=True,
                wallet__isnull=True,
            ),
            unique_live("wallet", "code", name="alert_code_unique_per_wallet", wallet__isnull=False),
            unique_live("wallet", "alert_type", name="alert_type_unique_per_wallet", wallet__isnull=False),
            unique_live(
                "organization",
                "external_subscription_id",
                "alert_type",
                "billable_metric",
                name="alert_type_metric_unique_per_subscription",
                billable_metric__isnull=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.alert_type}) on {self.external_subscription_id or 'wallet'}"


class AlertThreshold(BaseModel):
    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="thresholds")
    code = models.CharField(max_length=255, blank=True, default="")
    value = models.DecimalField(**UNITS)
    recurring = models.BooleanField(default=False)
    last_triggered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["recurring", "value", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert"], condition=Q(recurring=True), name="alert_one_recurring_threshold"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code or '-'} {self.value}{' (recurring)' if self.recurring else ''}"


class TriggeredAlert(BaseModel):
    """One `alert.triggered` webhook: the thresholds one evaluation found crossed. Append-only."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="triggers")
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    wallet = models.ForeignKey("invoicing.Wallet", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    external_subscription_id = models.CharField(max_length=255, blank=True, default="")
    period_key = models.CharField(max_length=64, blank=True, default="")
    current_value = models.DecimalField(**UNITS)
    previous_value = models.DecimalField(**UNITS)
    crossed_thresholds = models.JSONField(default=list)  # [{code, value, recurring}]
    triggered_at = models.DateTimeField()

    class Meta:
        ordering = ["-triggered_at", "-created_at"]


class AlertCrossing(BaseModel):
    """A threshold point crossed in a period ("" for lifetime types). Unique: never alerted twice."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="crossings")
    triggered_alert = models.ForeignKey(TriggeredAlert, on_delete=models.CASCADE, related_name="crossings")
    period_key = models.CharField(max_length=64, blank=True, default="")
    point = models.DecimalField(**UNITS)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "period_key", "point"], name="alert_crossing_once"),
        ]


class UsageActivity(BaseModel):
    """Ingestion touched this subscription at `marked_at`; evaluated up to `processed_at`."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    external_subscription_id = models.CharField(max_length=255)
    marked_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "usage activities"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_subscription_id"], name="usage_activity_once_per_subscription"
            ),
        ]
        indexes = [models.Index(fields=["marked_at"])]


class LifetimeUsage(BaseModel):
    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    # The first subscription of the chain (plan changes keep the chain through previous_subscription).
    subscription = models.OneToOneField(
        "subscriptions.Subscription", on_delete=models.CASCADE, related_name="lifetime_usage"
    )
    external_subscription_id = models.CharField(max_length=255)
    external_historical_usage_amount_cents = models.BigIntegerField(default=0)
    invoiced_usage_amount_cents = models.BigIntegerField(default=0)
    current_usage_amount_cents = models.BigIntegerField(default=0)
    recalculated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(external_historical_usage_amount_cents__gte=0), name="lifetime_historical_not_negative"
            ),
        ]

    @property
    def total_amount_cents(self) -> int:
        return (
            self.external_historical_usage_amount_cents
            + self.invoiced_usage_amount_cents
            + self.current_usage_amount_cents
        )


class AppliedUsageThreshold(BaseModel):
    """A progressive-billing threshold point the chain's lifetime usage crossed (once each)."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    lifetime_usage = models.ForeignKey(LifetimeUsage, on_delete=models.CASCADE, related_name="applied_thresholds")
    subscription = models.ForeignKey("subscriptions.Subscription", on_delete=models.CASCADE, related_name="+")
    usage_threshold = models.ForeignKey(
        "catalog.UsageThreshold", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    amount_cents = models.BigIntegerField(help_text="The lifetime amount at which this point is reached.")
    recurring = models.BooleanField(default=False)
    lifetime_usage_amount_cents = models.BigIntegerField()
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.SET_NULL, null=True, blank=True, related_name="applied_usage_thresholds"
    )

    class Meta:
        ordering = ["amount_cents"]
        constraints = [
            models.UniqueConstraint(fields=["lifetime_usage", "amount_cents"], name="applied_usage_threshold_once"),
        ]
