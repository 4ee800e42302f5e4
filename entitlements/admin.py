"""Finance console: features with their privileges, plan entitlements (also inline on the plan's
page) and subscription overrides (also inline on the subscription's page). Every change goes
through the services the API uses (`entitlements/services.py`), so it is validated, audited and
sends the same webhooks."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from billing_project.core.console import ReadOnlyInline
from catalog.admin import add_errors, dry_run, json_field
from catalog.models import Plan
from entitlements import services
from entitlements.models import (
    Entitlement,
    EntitlementValue,
    Feature,
    Privilege,
    SubscriptionFeatureRemoval,
    SubscriptionOverride,
)
from entitlements.values import cast_value
from subscriptions.models import Subscription


def _privilege_inputs(items: Any) -> list[services.PrivilegeInput]:
    if not isinstance(items, list) or not all(isinstance(i, dict) and "code" in i for i in items):
        raise forms.ValidationError('A list of {"code": ..., "value_type": ..., "config": {...}} objects.')
    return [
        services.PrivilegeInput(
            code=str(item["code"]),
            name=item.get("name", services.UNSET),
            value_type=item.get("value_type", services.UNSET),
            config=item.get("config", services.UNSET),
            billable_metric_code=item.get("billable_metric_code", services.UNSET),
        )
        for item in items
    ]


def _saved(instance: Any) -> bool:
    """An existing row (the UUID primary key is set on new instances too)."""
    return not instance._state.adding


def _soft_deleted_objects(objs: Any) -> tuple[list[str], dict[str, int], set[str], list[str]]:
    """What the delete confirmation lists: the rows themselves. Deletes are soft, through the
    services, so the protected foreign keys of their values never stop them."""
    names = [str(obj) for obj in objs]
    return names, {}, set(), []


def _values_summary(values: Any) -> str:
    return ", ".join(
        f"{v.privilege.code} = {cast_value(v.value, v.privilege.value_type)}" for v in values if v.deleted_at is None
    )


class PrivilegeInline(ReadOnlyInline):
    model = Privilege
    fields = ("code", "name", "value_type", "config", "billable_metric")
    readonly_fields = fields
    verbose_name_plural = "privileges (edited in the privileges field above)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Privilege]:
        return super().get_queryset(request).filter(deleted_at__isnull=True).select_related("billable_metric")


class FeatureForm(forms.ModelForm):
    privileges_json = json_field(
        label="Privileges",
        required=False,
        initial=list,
        help_text='[{"code": "max", "name": "Maximum", "value_type": "integer"}, {"code": "provider", '
        '"value_type": "select", "config": {"select_options": ["google", "okta"]}}, {"code": "calls", '
        '"value_type": "integer", "billable_metric_code": "api_calls"}]. Privileges left out are deleted.',
    )

    class Meta:
        model = Feature
        fields = ("organization", "code", "name", "description")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _saved(self.instance):
            self.fields["privileges_json"].initial = [
                {
                    "code": p.code,
                    "name": p.name,
                    "value_type": p.value_type,
                    "config": p.config or {},
                    "billable_metric_code": p.billable_metric.code if p.billable_metric is not None else None,
                }
                for p in Privilege.live.filter(feature=self.instance).select_related("billable_metric")
            ]

    def save_action(self) -> Any:
        """The service call this form stands for (run for real by the admin, dry by `clean`)."""
        data = self.cleaned_data or {}
        privileges = _privilege_inputs(data.get("privileges_json") or [])
        if _saved(self.instance):
            organization = self.instance.organization
            return lambda: services.feature_update(
                organization,
                code=self.instance.code,
                name=data.get("name") or None,
                description=data.get("description") or None,
                privileges=privileges,
                partial=False,
            )
        organization = data["organization"]
        return lambda: services.feature_create(
            organization,
            code=data.get("code") or "",
            name=data.get("name") or None,
            description=data.get("description") or None,
            privileges=privileges,
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors or (not _saved(self.instance) and cleaned.get("organization") is None):
            return cleaned
        _check_by_dry_run(self, "privileges_json")
        return cleaned

    def validate_unique(self) -> None:
        """Left to the service (codes are unique among live features only)."""


@admin.register(Feature)
class FeatureAdmin(admin.ModelAdmin):
    form = FeatureForm
    inlines = [PrivilegeInline]
    list_display = ("code", "name", "privileges_summary", "organization", "created_at")
    search_fields = ("code", "name", "description")
    list_select_related = ("organization",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Feature]:
        return super().get_queryset(request).filter(deleted_at__isnull=True).prefetch_related("privileges")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("organization", "code") if obj is not None else ()

    @admin.display(description="privileges")
    def privileges_summary(self, obj: Feature) -> str:
        return ", ".join(f"{p.code} ({p.value_type})" for p in obj.privileges.all() if p.deleted_at is None) or "-"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = form.save_action()()
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Privileges were saved by the service."""

    def construct_change_message(self, request: HttpRequest, form: Any, formsets: Any, add: bool = False) -> Any:
        return super().construct_change_message(request, form, [], add)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        return _soft_deleted_objects(objs)

    def delete_model(self, request: HttpRequest, obj: Feature) -> None:
        services.feature_delete(obj.organization, code=obj.code)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Feature]) -> None:
        for feature in queryset:
            services.feature_delete(feature.organization, code=feature.code)


def _check_by_dry_run(form: Any, json_field: str) -> None:
    """The form's service call (`save_action`) run and rolled back: its errors go on the form, a
    malformed JSON value on `json_field`."""
    try:
        action = form.save_action()
    except forms.ValidationError as error:
        form.add_error(json_field, error)
        return
    add_errors(form, dry_run(action))


class EntitlementForm(forms.ModelForm):
    """One feature granted to a plan or overridden for a subscription, with its values as JSON."""

    values_json = json_field(label="Values", initial=dict, help_text='{"max": 10, "root": true, "provider": "okta"}')

    class Meta:
        model = Entitlement
        fields = ("organization", "feature")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _saved(self.instance):
            self.fields["values_json"].initial = {
                v.privilege.code: cast_value(v.value, v.privilege.value_type)
                for v in EntitlementValue.live.filter(entitlement=self.instance).select_related("privilege")
            }

    owner_field: ClassVar[str]  # "plan" or "subscription"

    def _chosen(self, name: str) -> Any:
        return (self.cleaned_data or {}).get(name) or getattr(self.instance, name)

    def owner_action(self, values: dict[str, Any]) -> Any:
        """The service call that gives the chosen owner (plan or subscription) these values of the feature."""
        owner, feature, organization = (self._chosen(name) for name in (self.owner_field, "feature", "organization"))
        if owner is None:
            raise forms.ValidationError(f"Choose a {self.owner_field}.")
        return self.grant(organization, owner, feature, values)

    def grant(self, organization: Any, owner: Any, feature: Any, values: dict[str, Any]) -> Any:
        raise NotImplementedError

    def save_action(self) -> Any:
        values = (self.cleaned_data or {}).get("values_json")
        if not isinstance(values, dict):
            raise forms.ValidationError("An object: privilege code -> value.")
        return self.owner_action(values)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        feature = cleaned.get("feature") or (self.instance.feature if _saved(self.instance) else None)
        organization = cleaned.get("organization") or (self.instance.organization if _saved(self.instance) else None)
        if feature is None or organization is None:
            return cleaned
        if feature.organization_id != organization.pk:
            self.add_error("feature", "This feature belongs to another organization.")
            return cleaned
        _check_by_dry_run(self, "values_json")
        return cleaned


class PlanEntitlementForm(EntitlementForm):
    owner_field = "plan"

    class Meta:
        model = Entitlement
        fields = ("organization", "plan", "feature")

    def grant(self, organization: Any, plan: Any, feature: Any, values: dict[str, Any]) -> Any:
        # Replace this feature's values on the plan (values left out are removed), keep the other features.
        return lambda: services.plan_entitlements_update(
            organization, plan_code=plan.code, entitlements={feature.code: values}, partial=True, replace_values=True
        )


class SubscriptionOverrideForm(EntitlementForm):
    owner_field = "subscription"

    class Meta:
        model = Entitlement
        fields = ("organization", "subscription", "feature")

    def grant(self, organization: Any, subscription: Any, feature: Any, values: dict[str, Any]) -> Any:
        return lambda: services.subscription_entitlements_update(
            organization,
            external_id=subscription.external_id,
            status=subscription.status,
            entitlements={feature.code: values},
        )


class _EntitlementAdmin(admin.ModelAdmin):
    list_select_related = ("organization", "feature")
    show_full_result_count = False
    owner: str

    def get_queryset(self, request: HttpRequest) -> QuerySet[Entitlement]:
        return (
            super()
            .get_queryset(request)
            .filter(deleted_at__isnull=True, **{f"{self.owner}__isnull": False})
            .select_related(self.owner)
            .prefetch_related("values__privilege")
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("organization", self.owner, "feature") if obj is not None else ()

    @admin.display(description="values")
    def values_summary(self, obj: Entitlement) -> str:
        return _values_summary(obj.values.all()) or "-"

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        return _soft_deleted_objects(objs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        form.save_action()()
        saved = (
            Entitlement.live.filter(
                **{self.owner: getattr(obj, self.owner) or form.cleaned_data.get(self.owner)},
                feature=obj.feature if change else form.cleaned_data["feature"],
            )
            .order_by("-created_at")
            .first()
        )
        if saved is not None:
            obj.pk = saved.pk
            obj.refresh_from_db()


@admin.register(Entitlement)
class PlanEntitlementAdmin(_EntitlementAdmin):
    """Plan entitlements. Subscription overrides are `SubscriptionOverride` (a proxy) below."""

    form = PlanEntitlementForm
    owner = "plan"
    list_display = ("feature", "plan", "values_summary", "organization", "created_at")
    list_filter = ("feature__code",)
    search_fields = ("feature__code", "plan__code")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "plan":
            kwargs["queryset"] = Plan.objects.filter(parent__isnull=True, deleted_at__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def delete_model(self, request: HttpRequest, obj: Entitlement) -> None:
        plan = obj.plan
        assert plan is not None  # this admin lists plan entitlements only
        services.plan_entitlement_delete(obj.organization, plan_code=plan.code, feature_code=obj.feature.code)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Entitlement]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(SubscriptionOverride)
class SubscriptionOverrideAdmin(_EntitlementAdmin):
    form = SubscriptionOverrideForm
    owner = "subscription"
    list_display = ("feature", "subscription", "values_summary", "organization", "created_at")
    search_fields = ("feature__code", "subscription__external_id")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "subscription":
            kwargs["queryset"] = Subscription.objects.filter(status__in=["active", "pending"])
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def delete_model(self, request: HttpRequest, obj: Entitlement) -> None:
        """Deleting an override brings back the plan's values (the override's rows go, no removal is added)."""
        subscription = obj.subscription
        assert subscription is not None  # this admin lists overrides only
        values = EntitlementValue.live.filter(entitlement=obj).select_related("privilege")
        services.subscription_overrides_clear(
            obj.organization,
            subscription=subscription,
            feature_code=obj.feature.code,
            privileges=[v.privilege.code for v in values],
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Entitlement]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class PlanEntitlementInline(ReadOnlyInline):
    """On the plan's page: the features the plan grants, with their values (edited in Plan entitlements)."""

    model = Entitlement
    fk_name = "plan"
    fields = ("feature", "values_summary")
    readonly_fields = fields
    verbose_name_plural = "entitlements (edited in Entitlements → Plan entitlements)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Entitlement]:
        return (
            super()
            .get_queryset(request)
            .filter(deleted_at__isnull=True, feature__deleted_at__isnull=True)
            .select_related("feature")
            .prefetch_related("values__privilege")
        )

    @admin.display(description="values")
    def values_summary(self, obj: Entitlement) -> str:
        return _values_summary(obj.values.all()) or "-"


class SubscriptionOverrideInline(PlanEntitlementInline):
    """On the subscription's page: its overrides (edited in Subscription overrides)."""

    fk_name = "subscription"
    verbose_name_plural = "entitlement overrides (edited in Entitlements → Subscription overrides)"


class SubscriptionRemovalInline(ReadOnlyInline):
    model = SubscriptionFeatureRemoval
    fk_name = "subscription"
    fields = ("feature", "privilege", "created_at")
    readonly_fields = fields
    verbose_name_plural = "features and privileges removed from this subscription"

    def get_queryset(self, request: HttpRequest) -> QuerySet[SubscriptionFeatureRemoval]:
        return super().get_queryset(request).filter(deleted_at__isnull=True).select_related("feature", "privilege")


def attach_inlines(site: admin.AdminSite) -> None:
    """Show plan entitlements on the plan's page and overrides on the subscription's page (the
    catalog and subscriptions apps know nothing of entitlements; their admins are registered
    before this module is imported, INSTALLED_APPS order)."""
    for model, inlines in (
        (Plan, [PlanEntitlementInline]),
        (Subscription, [SubscriptionOverrideInline, SubscriptionRemovalInline]),
    ):
        model_admin = site._registry.get(model)
        if model_admin is None:
            continue
        current = list(model_admin.inlines or [])
        for inline in inlines:
            if inline not in current:
                current.append(inline)
        model_admin.inlines = current  # type: ignore[misc]  # the registered admin instance, once at start-up


attach_inlines(admin.site)
