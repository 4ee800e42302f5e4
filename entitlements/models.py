"""Features and entitlements (Lago's `Entitlement::*`): what a customer's plan lets it use.

A `Feature` (`seats`, `sso`) has typed `Privilege`s (`max`, `provider`). A plan grants a feature
with an `Entitlement` whose `EntitlementValue`s give each privilege its value. A subscription may
override it: an `Entitlement` attached to the subscription row (its values win over the plan's),
and a `SubscriptionFeatureRemoval` hides a plan's feature or privilege from that subscription.
How a subscription's entitlements are resolved: docs/entitlements.md.

Rows are soft-deleted like Lago's (`SoftDeleteModel`: the `objects` manager returns every row, `live`
only the undeleted ones). Values are stored as text and cast by the privilege's `value_type`
(`entitlements/values.py`).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing_project.core.models import SoftDeleteModel


class ValueType(models.TextChoices):
    INTEGER = "integer"
    STRING = "string"
    BOOLEAN = "boolean"
    SELECT = "select"


class Feature(SoftDeleteModel):
    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="features")
    code = models.CharField(max_length=255)
    name = models.CharField(max_length=255, null=True, blank=True)
    description = models.CharField(max_length=600, null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "code"], condition=Q(deleted_at__isnull=True), name="feature_code_unique_live"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name or self.code} ({self.code})"


class Privilege(SoftDeleteModel):
    """One typed setting of a feature. `config` holds `select_options` for `select` (else `{}`).

    bxb extra: `billable_metric` makes an integer privilege a usage limit per billing period of
    that metric; the subscription's entitlements then report the usage so far and what remains.
    """

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="privileges")
    code = models.CharField(max_length=255)
    name = models.CharField(max_length=255, null=True, blank=True)
    value_type = models.CharField(max_length=16, choices=ValueType.choices, default=ValueType.STRING)
    config = models.JSONField(default=dict, blank=True)
    billable_metric = models.ForeignKey(
        "catalog.BillableMetric", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["feature", "code"], condition=Q(deleted_at__isnull=True), name="privilege_code_unique_live"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.value_type})"


class Entitlement(SoftDeleteModel):
    """A feature granted by a plan (`plan`) or by a subscription override (`subscription`): one of the two."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="entitlements")
    plan = models.ForeignKey(
        "catalog.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="entitlements"
    )
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, null=True, blank=True, related_name="entitlements"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(plan__isnull=False, subscription__isnull=True)
                | Q(plan__isnull=True, subscription__isnull=False),
                name="entitlement_one_parent",
            ),
            models.UniqueConstraint(
                fields=["feature", "plan"],
                condition=Q(deleted_at__isnull=True, plan__isnull=False),
                name="entitlement_feature_unique_per_plan",
            ),
            models.UniqueConstraint(
                fields=["feature", "subscription"],
                condition=Q(deleted_at__isnull=True, subscription__isnull=False),
                name="entitlement_feature_unique_per_subscription",
            ),
        ]

    def __str__(self) -> str:
        owner = f"plan {self.plan_id}" if self.plan_id else f"subscription {self.subscription_id}"
        return f"{self.feature_id} on {owner}"


class SubscriptionOverride(Entitlement):
    """The admin's view of the entitlements that belong to a subscription (overrides)."""

    class Meta:
        proxy = True
        verbose_name = "subscription override"


class EntitlementValue(SoftDeleteModel):
    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    entitlement = models.ForeignKey(Entitlement, on_delete=models.PROTECT, related_name="values")
    privilege = models.ForeignKey(Privilege, on_delete=models.PROTECT, related_name="values")
    value = models.CharField(max_length=255)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["privilege", "entitlement"],
                condition=Q(deleted_at__isnull=True),
                name="entitlement_value_unique_live",
            )
        ]

    def __str__(self) -> str:
        return f"{self.privilege_id} = {self.value}"


class SubscriptionFeatureRemoval(SoftDeleteModel):
    """A plan's feature (or one privilege of it) taken away from one subscription."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, related_name="entitlement_removals"
    )
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    privilege = models.ForeignKey(Privilege, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(feature__isnull=False, privilege__isnull=True)
                | Q(feature__isnull=True, privilege__isnull=False),
                name="feature_removal_one_target",
            ),
            models.UniqueConstraint(
                fields=["subscription", "feature"],
                condition=Q(deleted_at__isnull=True, feature__isnull=False),
                name="feature_removal_unique_live",
            ),
            models.UniqueConstraint(
                fields=["subscription", "privilege"],
                condition=Q(deleted_at__isnull=True, privilege__isnull=False),
                name="privilege_removal_unique_live",
            ),
        ]

    def __str__(self) -> str:
        return f"removal on {self.subscription_id}"


class EntitlementsVersion(models.Model):
    """A counter every entitlements change of the organization increments, in the transaction of
    the change. The read path (`selectors.subscription_entitlements_read`) reads it in the same
    statement as the subscription and serves its per-process cache only while it is unchanged,
    so a change is seen by every worker at once (docs/entitlements.md, "Speed")."""

    organization = models.OneToOneField(
        "customers.Organization", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.version}"
