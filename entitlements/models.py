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

from billing_project.core.models import SoftDeleteModel, exactly_one, unique_live


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
        constraints = [unique_live("organization", "code", name="feature_code_unique_live")]

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
        constraints = [unique_live("feature", "code", name="privilege_code_unique_live")]

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
            exactly_one("plan", "subscription", name="entitlement_one_parent"),
            unique_live("feature", "plan", name="entitlement_feature_unique_per_plan", plan__isnull=False),
            unique_live(
                "feature",
                "subscription",
                name="entitlement_feature_unique_per_subscription",
                subscription__isnull=False,
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
        constraints = [unique_live("privilege", "entitlement", name="entitlement_value_unique_live")]

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
            exactly_one("feature", "privilege", name="feature_removal_one_target"),
            unique_live("subscription", "feature", name="feature_removal_unique_live", feature__isnull=False),
            unique_live("subscription", "privilege", name="privilege_removal_unique_live", privilege__isnull=False),
        ]

    def __str__(self) -> str:
        return f"removal on {self.subscription_id}"


class EntitlementsVersion(models.Model):
    """A counter every entitlements change of the organization increments, in the transaction of
    the change. The read path (`read_path.subscription_entitlements_read`) reads it in the same
    statement as the subscription and serves its per-process cache only while it is unchanged,
    so a change is seen by every worker at once (docs/entitlements.md, "Speed")."""

    organization = models.OneToOneField(
        "customers.Organization", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.version}"
