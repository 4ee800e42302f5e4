"""Finance console for the catalog: metrics, plans with inline charges, taxes, coupons, add-ons.

Forms are checked by running the very service the API uses inside a rolled-back transaction, so
the console refuses exactly what the API refuses, with the same Lago codes; saving calls the
service for real. Charge properties are checked with the pricing module's functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from billing_project.core.console import ActionsOnlyAdmin, ReadOnlyInline, cents_from_major, major_units
from billing_project.core.errors import DomainError, ValidationFailure
from billing_project.core.inputs import UNSET
from billing_project.core.money import format_amount, is_currency, parse_decimal
from billing_project.core.money_column import money_column
from catalog import pricing, services
from catalog.hooks import plan_usage
from catalog.inputs import (
    AddOnFields,
    BillableMetricFields,
    ChargeFields,
    ChargeFilterFields,
    CommitmentFields,
    CouponFields,
    CouponTargets,
    FixedChargeFields,
    MetricFilterFields,
    PlanFields,
    TaxFields,
    UsageThresholdFields,
)
from catalog.models import (
    AddOn,
    AppliedCoupon,
    BillableMetric,
    BillableMetricFilter,
    Charge,
    ChargeFilter,
    ChargeModel,
    Coupon,
    CouponStatus,
    FixedCharge,
    Plan,
    Tax,
    UsageThreshold,
)
from catalog.services.fixed_charges import fixed_charge_properties_errors
from catalog.services.plans import charge_rule_errors, next_charge_code, normalize_properties, properties_errors
from catalog.summaries import price_summary


class DecimalJSONDecoder(json.JSONDecoder):
    """Fractional numbers become Decimal (as in the API's parser), never float."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["parse_float"] = Decimal
        super().__init__(*args, **kwargs)


def json_field(**kwargs: Any) -> forms.JSONField:
    return forms.JSONField(decoder=DecimalJSONDecoder, encoder=DjangoJSONEncoder, **kwargs)


class PricingPropertiesWidget(forms.Textarea):
    """A charge's properties edited as a table of tiers (graduated, volume, graduated percentage)
    or as fields (standard, package, percentage); the JSON stays the value the form receives."""

    template_name = "admin/catalog/widgets/pricing_properties.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"rows": 3, "cols": 60, **(attrs or {})})


class _Rollback(Exception):
    pass


def dry_run(action: Callable[[], Any]) -> dict[str, list[str]]:
    """Run a service and roll it back; return its refusal as `{field: [codes]}` (empty if accepted)."""
    try:
        with transaction.atomic():
            action()
            raise _Rollback
    except _Rollback:
        return {}
    except ValidationFailure as exc:
        return {str(k): [str(c) for c in v] for k, v in exc.details.items()}  # type: ignore[union-attr]
    except DomainError as exc:
        return {"__all__": [getattr(exc, "code", str(exc))]}


def add_errors(form: forms.BaseForm, errors: dict[str, list[str]]) -> None:
    for field, codes in errors.items():
        message = ", ".join(codes)
        if field in form.fields:
            form.add_error(field, message)
        else:
            form.add_error(None, message if field == "__all__" else f"{field}: {message}")


def money_field(label: str, **kwargs: Any) -> forms.DecimalField:
    """An amount typed in currency units (`149.00`, `1500` for JPY); stored as cents."""
    return forms.DecimalField(
        label=label, min_value=Decimal(0), max_digits=20, decimal_places=3,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "money-input"}), **kwargs,
    )  # fmt: skip


class ServiceForm(forms.ModelForm):
    """A model form whose data goes through a catalog service (see the admin's `service_data`).

    `money_fields` maps a form field typed in currency units to the cents key the service takes
    and the form field (or model attribute) holding the currency: `{"amount": ("amount_cents",
    "amount_currency")}`. More decimals than the currency has are refused, not rounded."""

    service_fields: tuple[str, ...] = ()
    money_fields: dict[str, tuple[str, str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (cents, currency_field) in self.money_fields.items():
            value, currency = getattr(self.instance, cents, None), getattr(self.instance, currency_field, None)
            if self.instance.pk and value is not None and is_currency(currency):
                self.initial[name] = major_units(value, currency)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data; the stubs allow None
        for name, (cents, currency_field) in self.money_fields.items():
            value = cleaned.get(name)
            if value is None:
                continue
            currency = str(cleaned.get(currency_field) or getattr(self.instance, currency_field, "") or "").upper()
            if not is_currency(currency):
                self.add_error(name, "Choose the currency first.")
                continue
            try:
                cleaned[cents] = cents_from_major(value, currency)
            except forms.ValidationError as exc:
                self.add_error(name, exc)
        return cleaned

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.service_fields if name in self.cleaned_data}

    def validate_unique(self) -> None:
        """Uniqueness is the service's rule (live rows only), reported with its code."""


class ServiceAdmin(admin.ModelAdmin):
    """Create/update/delete through `create`, `update`, `delete` services taking (organization, ...)."""

    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., Any]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        admin_ = self

        class Checked(form_class):  # type: ignore[misc, valid-type]
            def clean(self) -> dict[str, Any]:
                cleaned = super().clean()
                if self.errors:
                    return cleaned
                organization = obj.organization if obj is not None else cleaned.get("organization")
                if organization is None:
                    return cleaned
                data = self.service_data()
                if obj is None:
                    errors = dry_run(lambda: admin_.create(organization, data=data))
                else:
                    errors = dry_run(lambda: admin_.update(organization, code=obj.code, data=data))
                add_errors(self, errors)
                return cleaned

        return Checked

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "organization") if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.service_data()
        if change:
            saved = self.update(obj.organization, code=form.initial.get("code", obj.code), data=data)
        else:
            saved = self.create(form.cleaned_data["organization"], data=data)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete(obj.organization, code=obj.code)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete(obj.organization, code=obj.code)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        return qs.filter(deleted_at__isnull=True) if hasattr(self.model, "live") else qs


# --- taxes ------------------------------------------------------------------------------------


class TaxForm(ServiceForm):
    service_fields = ("name", "code", "rate", "description", "applied_to_organization")

    def service_data(self) -> TaxFields:  # type: ignore[override]
        return TaxFields.from_validated(super().service_data())

    class Meta:
        model = Tax
        fields = ("organization", "name", "code", "rate", "description", "applied_to_organization")


@admin.register(Tax)
class TaxAdmin(ServiceAdmin):
    form = TaxForm
    create = staticmethod(services.tax_create)
    update = staticmethod(services.tax_update)
    delete = staticmethod(services.tax_delete)
    list_display = ("code", "name", "rate_display", "applied_to_organization", "organization", "created_at")
    list_filter = ("applied_to_organization",)
    search_fields = ("code", "name")
    list_select_related = ("organization",)

    @admin.display(description="rate", ordering="rate")
    def rate_display(self, obj: Tax) -> str:
        return f"{obj.rate.normalize():f} %"


# --- add-ons ----------------------------------------------------------------------------------


class AddOnForm(ServiceForm):
    service_fields = ("name", "code", "invoice_display_name", "description", "amount_cents", "amount_currency")
    money_fields = {"amount": ("amount_cents", "amount_currency")}
    amount = money_field("Price", help_text="In the add-on's currency (e.g. 500.00; JPY has no decimals).")
    tax_codes = forms.CharField(required=False, help_text="Tax codes, comma separated.")

    class Meta:
        model = AddOn
        fields = ("organization", "name", "code", "invoice_display_name", "description", "amount_currency")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["tax_codes"].initial = ", ".join(t.code for t in self.instance.taxes.all())

    def service_data(self) -> AddOnFields:  # type: ignore[override]
        data = super().service_data()
        data["tax_codes"] = codes_list(self.cleaned_data.get("tax_codes"))
        return AddOnFields.from_validated(data)


@admin.register(AddOn)
class AddOnAdmin(ServiceAdmin):
    form = AddOnForm
    fields = ("organization", "name", "code", ("amount", "amount_currency"), "invoice_display_name", "description",
              "tax_codes")  # fmt: skip
    create = staticmethod(services.add_on_create)
    update = staticmethod(services.add_on_update)
    delete = staticmethod(services.add_on_delete)
    list_display = ("code", "name", "price", "organization", "created_at")
    list_filter = ("amount_currency",)
    search_fields = ("code", "name")
    list_select_related = ("organization",)

    price = money_column("amount_cents", "amount_currency", "price", ordering="amount_cents")


# --- billable metrics -------------------------------------------------------------------------


def parse_filters_text(text: str) -> tuple[MetricFilterFields, ...]:
    """`region: us, eu` per line → `(MetricFilterFields(key="region", values=["us", "eu"]),)`."""
    filters = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        key, _, values = line.partition(":")
        filters.append(MetricFilterFields(key=key.strip(), values=[v.strip() for v in values.split(",") if v.strip()]))
    return tuple(filters)


class BillableMetricForm(ServiceForm):
    service_fields = ("name", "code", "description", "aggregation_type", "field_name", "recurring",
                      "weighted_interval", "rounding_function", "rounding_precision", "expression")  # fmt: skip
    filters_text = forms.CharField(
        label="Filters", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One filter per line: <code>key: value1, value2</code>.",
    )  # fmt: skip

    class Meta:
        model = BillableMetric
        fields = ("organization", "name", "code", "description", "aggregation_type", "field_name", "recurring",
                  "weighted_interval", "rounding_function", "rounding_precision", "expression")  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["filters_text"].initial = "\n".join(
                f"{f.key}: {', '.join(f.values)}"
                for f in BillableMetricFilter.live.filter(billable_metric=self.instance)
            )

    def service_data(self) -> BillableMetricFields:  # type: ignore[override]
        data = super().service_data()
        for key in ("field_name", "weighted_interval", "rounding_function", "expression"):
            data[key] = data.get(key) or None
        return BillableMetricFields(**data, filters=parse_filters_text(self.cleaned_data.get("filters_text") or ""))


class BillableMetricFilterInline(ReadOnlyInline):
    model = BillableMetricFilter
    fields = ("key", "values")
    readonly_fields = fields
    verbose_name_plural = "filters (edit them in the Filters field above)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[BillableMetricFilter]:
        return BillableMetricFilter.live.all()


@admin.register(BillableMetric)
class BillableMetricAdmin(ServiceAdmin):
    form = BillableMetricForm
    create = staticmethod(services.billable_metric_create)
    update = staticmethod(services.billable_metric_update)
    delete = staticmethod(services.billable_metric_delete)
    inlines = [BillableMetricFilterInline]
    list_display = ("code", "name", "aggregation_type", "field_name", "recurring", "organization", "created_at")
    list_filter = ("aggregation_type", "recurring")
    search_fields = ("code", "name")
    list_select_related = ("organization",)


# --- plans and charges ------------------------------------------------------------------------


FROZEN_CHARGE_FIELDS = ("billable_metric", "charge_model", "pay_in_advance", "invoiceable", "prorated",
                        "min_amount")  # fmt: skip


class ChargeForm(forms.ModelForm):
    code = forms.CharField(required=False, max_length=255, help_text="Generated from the metric's code when empty.")
    properties = json_field(
        initial=dict,
        required=False,
        widget=PricingPropertiesWidget(),
        help_text="Tiers and prices as a table; the JSON (Lago's shape) is kept in step below.",
    )
    min_amount = money_field(
        "Minimum amount", required=False, help_text="Per period, in the plan's currency; empty: none."
    )

    class Meta:
        model = Charge
        fields = ("billable_metric", "code", "charge_model", "properties", "pay_in_advance", "invoiceable",
                  "prorated", "invoice_display_name")  # fmt: skip

    def __init__(self, *args: Any, currency: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        charge = self.instance
        self.currency = currency or (charge.plan.amount_currency if charge.plan_id else None)
        if charge.pk and charge.plan_id and plan_usage.get().in_use(charge.plan):
            self.fields.pop("min_amount", None)  # frozen once subscriptions use the plan (shown read-only)
        elif charge.pk and is_currency(self.currency):
            self.initial["min_amount"] = major_units(charge.min_amount_cents, str(self.currency))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data; the stubs allow None
        if "min_amount" in self.fields:
            value = cleaned.get("min_amount")
            currency = str(self.currency or "").upper()
            if value is not None and not is_currency(currency):
                self.add_error("min_amount", "The plan's currency is needed to read this amount.")
            else:
                try:
                    cleaned["min_amount_cents"] = cents_from_major(value, currency) if value is not None else 0
                except forms.ValidationError as exc:
                    self.add_error("min_amount", exc)
                else:
                    self.instance.min_amount_cents = cleaned["min_amount_cents"]
        if not cleaned.get("code") and self.instance.code:
            cleaned["code"] = self.instance.code
        model = cleaned.get("charge_model", self.instance.charge_model)
        metric = cleaned.get("billable_metric") or (
            self.instance.billable_metric if self.instance.billable_metric_id else None
        )
        if not model or metric is None:
            return cleaned
        properties = normalize_properties(model, cleaned.get("properties") or {})
        errors = properties_errors(model, properties)

        def flag(name: str) -> Any:
            return cleaned[name] if name in cleaned else getattr(self.instance, name)

        probe = Charge(
            charge_model=model,
            pay_in_advance=bool(flag("pay_in_advance")),
            invoiceable=bool(flag("invoiceable")),
            prorated=bool(flag("prorated")),
            min_amount_cents=flag("min_amount_cents") or 0,
        )
        errors = {**errors, **charge_rule_errors(probe, metric)}
        add_errors(self, errors)
        cleaned["properties"] = properties
        self.instance.properties = properties
        keys = properties.get("pricing_group_keys")
        self.instance.pricing_group_keys = list(keys) if isinstance(keys, list) else []
        return cleaned


class ChargeInlineFormSet(forms.BaseInlineFormSet):
    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        """Each charge reads its amounts in the plan's currency (known once the plan form is valid)."""
        return {**super().get_form_kwargs(index), "currency": getattr(self.instance, "amount_currency", None) or None}

    def clean(self) -> None:
        super().clean()
        live = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        codes = [f.cleaned_data.get("code") for f in live if f.cleaned_data.get("code")]
        if len(codes) != len(set(codes)):
            raise forms.ValidationError("code: value_already_exist")
        for form in live:
            metric = form.cleaned_data.get("billable_metric")
            if metric is not None and metric.organization_id != self.instance.organization_id:
                form.add_error("billable_metric", "billable_metric_not_found")


class _PlanItemInline(admin.StackedInline):
    """A plan's charges or fixed charges on its page (live rows, with `related` read along), with
    their price summary; once subscriptions use the plan, the `frozen` fields stay (as in the API)."""

    fk_name = "plan"
    extra = 0
    readonly_fields = ("price",)
    related: tuple[str, ...] = ()
    frozen: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.model.live.select_related(*self.related)  # type: ignore[attr-defined]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is not None and plan_usage.get().in_use(obj):
            return ("price", *self.frozen)
        return ("price",)

    @admin.display(description="price")
    def price(self, obj: Charge | FixedCharge) -> str:
        if not obj.pk:
            return "-"
        return price_summary(obj.charge_model, obj.properties, obj.plan.amount_currency)


class ChargeInline(_PlanItemInline):
    model = Charge
    form = ChargeForm
    formset = ChargeInlineFormSet
    fields = (("billable_metric", "code", "charge_model"), "properties", "price",
              ("pay_in_advance", "invoiceable", "prorated"), ("min_amount", "invoice_display_name"))  # fmt: skip
    autocomplete_fields = ("billable_metric",)
    show_change_link = True
    related = ("billable_metric", "plan")
    frozen = FROZEN_CHARGE_FIELDS

    @admin.display(description="minimum amount")
    def min_amount(self, obj: Charge) -> str:
        return format_amount(obj.min_amount_cents, obj.plan.amount_currency) if obj.min_amount_cents else "-"


class FixedChargeForm(forms.ModelForm):
    """A fixed charge edited on its plan; checked and saved by the fixed charge services."""

    code = forms.CharField(required=False, max_length=255, help_text="Generated from the add-on's code when empty.")
    properties = json_field(initial=dict, required=False, widget=PricingPropertiesWidget())

    class Meta:
        model = FixedCharge
        fields = ("add_on", "code", "charge_model", "units", "properties", "pay_in_advance", "prorated",
                  "invoice_display_name")  # fmt: skip

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data; the stubs allow None
        model = cleaned.get("charge_model") or self.instance.charge_model
        if model:
            properties = pricing.filter_properties(model, cleaned.get("properties") or {})
            add_errors(self, fixed_charge_properties_errors(model, properties))
            cleaned["properties"] = properties
        return cleaned

    def validate_unique(self) -> None:
        """Uniqueness is the service's rule (live rows only), reported with its code."""

    def service_input(self) -> FixedChargeFields:
        data = self.cleaned_data
        add_on = data.get("add_on")
        return FixedChargeFields(
            add_on_id=str(add_on.pk) if add_on is not None else UNSET,
            code=data.get("code") or UNSET,
            charge_model=data.get("charge_model"),
            units=data.get("units"),
            properties=data.get("properties") or {},
            pay_in_advance=bool(data.get("pay_in_advance")),
            prorated=bool(data.get("prorated")),
            invoice_display_name=data.get("invoice_display_name") or "",
        )


class FixedChargeInline(_PlanItemInline):
    model = FixedCharge
    form = FixedChargeForm
    fields = (("add_on", "code", "charge_model", "units"), "properties", "price",
              ("pay_in_advance", "prorated", "invoice_display_name"))  # fmt: skip
    autocomplete_fields = ("add_on",)
    related = ("add_on", "plan")
    frozen = ("add_on", "code", "charge_model", "pay_in_advance", "prorated")


def codes_list(text: str | None) -> list[str]:
    return [code.strip() for code in (text or "").split(",") if code.strip()]


class PlanForm(ServiceForm):
    service_fields = ("name", "code", "interval", "description", "invoice_display_name", "amount_cents",
                      "amount_currency", "pay_in_advance", "trial_period", "bill_charges_monthly")  # fmt: skip
    money_fields = {"amount": ("amount_cents", "amount_currency")}
    amount = money_field("Base price", help_text="Per billing interval, in the plan's currency (e.g. 149.00).")
    tax_codes = forms.CharField(required=False, help_text="Plan taxes: tax codes, comma separated.")
    minimum_commitment = money_field("Minimum commitment", required=False, help_text="Empty: no commitment.")
    usage_thresholds_text = forms.CharField(
        label="Usage thresholds", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Progressive billing, one amount in the plan's currency per line: <code>500</code>, or "
        "<code>500 recurring</code>.",
    )  # fmt: skip

    class Meta:
        model = Plan
        fields = ("organization", "name", "code", "interval", "description", "invoice_display_name",
                  "amount_currency", "pay_in_advance", "trial_period", "bill_charges_monthly")  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plan = self.instance
        if plan.pk:
            currency = plan.amount_currency
            self.fields["tax_codes"].initial = ", ".join(t.code for t in plan.taxes.all())
            commitment = plan.commitments.first()
            self.fields["minimum_commitment"].initial = (
                major_units(commitment.amount_cents, currency) if commitment else None
            )
            self.fields["usage_thresholds_text"].initial = "\n".join(
                f"{major_units(t.amount_cents, currency)}{' recurring' if t.recurring else ''}"
                for t in UsageThreshold.live.filter(plan=plan)
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        currency = str(cleaned.get("amount_currency") or self.instance.amount_currency or "").upper()
        if not is_currency(currency):
            return cleaned
        try:
            commitment = cleaned.get("minimum_commitment")
            cleaned["minimum_commitment_cents"] = (
                cents_from_major(commitment, currency) if commitment is not None else None
            )
        except forms.ValidationError as exc:
            self.add_error("minimum_commitment", exc)
        thresholds = []
        for line in (cleaned.get("usage_thresholds_text") or "").splitlines():
            parts = line.split()
            if not parts:
                continue
            amount = parse_decimal(parts[0])
            if amount is None or amount < 0 or parts[1:] not in ([], ["recurring"]):
                self.add_error("usage_thresholds_text", f"{line!r}: an amount, optionally followed by 'recurring'.")
                continue
            try:
                thresholds.append(UsageThresholdFields(amount_cents=cents_from_major(amount, currency),
                                                       recurring=parts[1:] == ["recurring"]))  # fmt: skip
            except forms.ValidationError as exc:
                self.add_error("usage_thresholds_text", exc)
        cleaned["usage_thresholds"] = thresholds
        return cleaned

    def service_data(self) -> PlanFields:  # type: ignore[override]
        amount = self.cleaned_data.get("minimum_commitment_cents")
        return PlanFields(
            **super().service_data(),
            tax_codes=codes_list(self.cleaned_data.get("tax_codes")),
            minimum_commitment=CommitmentFields(amount_cents=amount) if amount is not None else None,
            usage_thresholds=tuple(self.cleaned_data.get("usage_thresholds") or ()),
        )


@admin.register(Plan)
class PlanAdmin(ServiceAdmin):
    """The plan editor. The plan goes through plan_create/plan_update; charges are checked inline
    with the API's own property and compatibility rules and saved with the plan."""

    form = PlanForm
    fields = ("organization", "name", "code", "interval", ("amount", "amount_currency"), "pay_in_advance",
              "trial_period", "bill_charges_monthly", "description", "invoice_display_name", "tax_codes",
              "minimum_commitment", "usage_thresholds_text")  # fmt: skip
    create = staticmethod(services.plan_create)
    update = staticmethod(services.plan_update)
    delete = staticmethod(services.plan_delete)
    inlines = [ChargeInline, FixedChargeInline]
    list_display = ("code", "name", "interval", "base_fee", "charges_summary", "organization", "created_at")
    list_filter = ("interval", "amount_currency", "charges__charge_model", "pay_in_advance")
    search_fields = ("code", "name")
    list_select_related = ("organization",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        return super().get_queryset(request).filter(parent__isnull=True).prefetch_related("charges__billable_metric")

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup.startswith("charges__charge_model") or super().lookup_allowed(lookup, value, request)

    base_fee = money_column("amount_cents", "amount_currency", "base fee", ordering="amount_cents")

    @admin.display(description="charges")
    def charges_summary(self, obj: Plan) -> str:
        charges = [c for c in obj.charges.all() if c.deleted_at is None]
        return (
            " | ".join(
                f"{c.billable_metric.code} → {price_summary(c.charge_model, c.properties, obj.amount_currency)}"
                for c in charges
            )
            or "-"
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is FixedCharge:
            return self._save_fixed_charges(form.instance, formset)
        if formset.model is not Charge:
            return super().save_formset(request, form, formset, change)
        instances = formset.save(commit=False)
        for charge in formset.deleted_objects:
            services.plan_charge_delete(charge.organization, plan_code=form.instance.code, charge_code=charge.code)
        taken: set[str] = set()
        for charge in instances:
            charge.organization = form.instance.organization
            charge.plan = form.instance
            if not charge.code:
                charge.code = next_charge_code(form.instance, charge.billable_metric.code, taken)
            taken.add(charge.code)
            charge.save()
        return None

    def _save_fixed_charges(self, plan: Plan, formset: Any) -> None:
        _save_fixed_charges_of(plan, formset)
        # what the admin's change message reads from a saved formset
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


def _save_fixed_charges_of(plan: Plan, formset: Any) -> None:
    """The inline's changes through the fixed charge services (the API's rules and errors)."""
    organization = plan.organization
    for deleted in formset.deleted_forms:
        if deleted in formset.initial_forms:
            services.plan_fixed_charge_delete(organization, plan_code=plan.code, code=deleted.instance.code)
    for item in formset.forms:
        if item in formset.deleted_forms or not item.has_changed() or not item.cleaned_data:
            continue
        if item in formset.initial_forms:
            services.plan_fixed_charge_update(
                organization,
                plan_code=plan.code,
                code=item.initial.get("code", item.instance.code),
                data=item.service_input(),
            )
        else:
            services.plan_fixed_charge_create(organization, plan_code=plan.code, data=item.service_input())


class FilterValuesWidget(forms.Textarea):
    """A charge filter's values edited as the metric's filter keys with a box per allowed value (and
    "any value"); the JSON (`{"region": ["us", "eu"]}`) stays the value the form receives."""

    template_name = "admin/catalog/widgets/filter_values.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"rows": 2, "cols": 50, **(attrs or {})})


class ChargeFilterForm(forms.ModelForm):
    values = json_field(
        help_text='{"region": ["us", "eu"]}, or ["__ALL_FILTER_VALUES__"] for any value.',
        widget=FilterValuesWidget(),
    )
    properties = json_field(required=False, initial=dict, widget=PricingPropertiesWidget())

    class Meta:
        model = ChargeFilter
        fields = ("values", "properties", "invoice_display_name")

    def __init__(
        self,
        *args: Any,
        charge: Charge | None = None,
        metric_filters: dict[str, list[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if charge is None and self.instance.charge_id:
            charge = self.instance.charge
        if charge is not None and charge.pk:
            # The editors of a new row know the charge too (the formset passes it): the price
            # editor shows this charge model's table or fields, the values editor the metric's keys.
            self.fields["properties"].widget.attrs["data-charge-model"] = charge.charge_model
            if metric_filters is None:
                metric_filters = metric_filter_values(charge)
            self.fields["values"].widget.attrs["data-filters"] = json.dumps(metric_filters)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data; the stubs allow None
        charge = self.instance.charge if self.instance.charge_id else None
        if charge is not None and isinstance(cleaned.get("properties"), dict):
            cleaned["properties"] = normalize_properties(charge.charge_model, cleaned["properties"])
            add_errors(self, properties_errors(charge.charge_model, cleaned["properties"]))
        return cleaned


def metric_filter_values(charge: Charge) -> dict[str, list[str]]:
    """The filter keys of the charge's metric and the values each allows."""
    rows = BillableMetricFilter.live.filter(billable_metric_id=charge.billable_metric_id).order_by("created_at", "id")
    return {row.key: list(row.values or []) for row in rows}


class ChargeFilterFormSet(forms.BaseInlineFormSet):
    """Hands the charge and its metric's filters (read once) to every row's form, the blank "add
    another" row included."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # forms are built later, on first use
        self.metric_filters = metric_filter_values(self.instance) if self.instance.pk else {}

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "charge": self.instance, "metric_filters": self.metric_filters}


class ChargeFilterInline(admin.TabularInline):
    model = ChargeFilter
    form = ChargeFilterForm
    formset = ChargeFilterFormSet
    fields = ("values", "properties", "invoice_display_name", "price")
    readonly_fields = ("price",)
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChargeFilter]:
        return ChargeFilter.live.select_related("charge__plan")

    @admin.display(description="price")
    def price(self, obj: ChargeFilter) -> str:
        if not obj.pk:
            return "-"
        return price_summary(obj.charge.charge_model, obj.properties, obj.charge.plan.amount_currency)


@admin.register(Charge)
class ChargeAdmin(admin.ModelAdmin):
    """Charges one by one, with their filters; properties checked as in the API."""

    form = ChargeForm
    inlines = [ChargeFilterInline]
    list_display = ("code", "plan", "billable_metric", "charge_model", "price", "pay_in_advance")
    list_filter = ("charge_model", "pay_in_advance", "plan__interval", "plan__amount_currency")
    search_fields = ("code", "plan__code", "plan__name", "billable_metric__code")
    list_select_related = ("plan", "billable_metric")
    autocomplete_fields = ("billable_metric",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Charge]:
        return Charge.live.filter(plan__deleted_at__isnull=True).select_related("plan", "billable_metric")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # charges are added in the plan editor

    @admin.display(description="price")
    def price(self, obj: Charge) -> str:
        return price_summary(obj.charge_model, obj.properties, obj.plan.amount_currency)

    def delete_model(self, request: HttpRequest, obj: Charge) -> None:
        services.plan_charge_delete(obj.organization, plan_code=obj.plan.code, charge_code=obj.code)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Charge]) -> None:
        for charge in queryset:
            self.delete_model(request, charge)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Charge filters go through plan_charge_update (the API's filter rules)."""
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        charge = form.instance
        kept: list[ChargeFilterFields] = []
        for sub in formset.forms:
            data = sub.cleaned_data
            if not data or data.get("DELETE"):
                continue
            kept.append(ChargeFilterFields(values=data.get("values") or {}, properties=data.get("properties") or {},
                                           invoice_display_name=data.get("invoice_display_name") or ""))  # fmt: skip
        try:
            services.plan_charge_update(
                charge.organization, plan_code=charge.plan.code, charge_code=charge.code,
                data=ChargeFields(filters=kept),
            )  # fmt: skip
        except DomainError as exc:
            details = getattr(exc, "details", None) or {"filters": [getattr(exc, "code", str(exc))]}
            messages.error(request, f"Filters not saved: {json.dumps(details)}")


# --- coupons ----------------------------------------------------------------------------------


class CouponForm(ServiceForm):
    service_fields = ("name", "code", "description", "coupon_type", "amount_cents", "amount_currency",
                      "percentage_rate", "frequency", "frequency_duration", "expiration", "expiration_at",
                      "reusable")  # fmt: skip
    money_fields = {"amount": ("amount_cents", "amount_currency")}
    amount = money_field("Amount", required=False, help_text="Fixed-amount coupons: in the coupon's currency.")
    plan_codes = forms.CharField(required=False, help_text="Limit to these plans (codes, comma separated).")
    billable_metric_codes = forms.CharField(
        required=False, help_text="Or limit to these billable metrics (codes, comma separated)."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            targets = list(self.instance.targets.select_related("plan", "billable_metric"))
            self.fields["plan_codes"].initial = ", ".join(t.plan.code for t in targets if t.plan_id)
            self.fields["billable_metric_codes"].initial = ", ".join(
                t.billable_metric.code for t in targets if t.billable_metric_id
            )

    def service_data(self) -> CouponFields:  # type: ignore[override]
        targets = CouponTargets(
            plan_codes=codes_list(self.cleaned_data.get("plan_codes")),
            billable_metric_codes=codes_list(self.cleaned_data.get("billable_metric_codes")),
        )
        return CouponFields(**super().service_data(), applies_to=targets)

    class Meta:
        model = Coupon
        fields = ("organization", "name", "code", "description", "coupon_type", "amount_currency",
                  "percentage_rate", "frequency", "frequency_duration", "expiration", "expiration_at", "reusable")  # fmt: skip


@admin.register(Coupon)
class CouponAdmin(ServiceAdmin):
    form = CouponForm
    fields = ("organization", "name", "code", "description", "coupon_type", ("amount", "amount_currency"),
              "percentage_rate", "frequency", "frequency_duration", "expiration", "expiration_at", "reusable",
              "plan_codes", "billable_metric_codes")  # fmt: skip
    create = staticmethod(services.coupon_create)
    update = staticmethod(services.coupon_update)
    delete = staticmethod(services.coupon_delete)
    list_display = ("code", "name", "value", "frequency", "expiration", "status", "organization", "created_at")
    list_filter = ("coupon_type", "frequency", "status", "amount_currency")
    search_fields = ("code", "name")
    list_select_related = ("organization",)
    actions = ["terminate"]

    @admin.display(description="value")
    def value(self, obj: Coupon) -> str:
        if obj.coupon_type == "percentage":
            return f"{(obj.percentage_rate or Decimal(0)).normalize():f} %"
        return format_amount(obj.amount_cents, obj.amount_currency)

    @admin.action(description="Terminate (no new applications; applied coupons keep running)")
    def terminate(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> None:
        for coupon in queryset:
            services.coupon_terminate(coupon.organization, code=coupon.code)
        self.message_user(request, f"Terminated {queryset.count()} coupon(s).", messages.SUCCESS)


@admin.register(AppliedCoupon)
class AppliedCouponAdmin(ActionsOnlyAdmin):
    """Who has which coupon. Applying happens through the API; removing is the action below."""

    list_display = ("coupon", "customer", "value", "remaining", "frequency", "status", "created_at", "terminated_at")
    list_filter = ("status", "frequency", "amount_currency")
    search_fields = ("coupon__code", "customer__external_id", "customer__name", "customer__email")
    list_select_related = ("coupon", "customer")
    show_full_result_count = False
    actions = ["remove"]
    readonly_fields = ("organization", "customer", "coupon", "amount_cents", "amount_cents_remaining",
                       "amount_currency", "percentage_rate", "frequency", "frequency_duration",
                       "frequency_duration_remaining", "status", "terminated_at", "created_at")  # fmt: skip
    fields = readonly_fields

    @admin.display(description="value")
    def value(self, obj: AppliedCoupon) -> str:
        if obj.percentage_rate is not None:
            return f"{obj.percentage_rate.normalize():f} %"
        return format_amount(obj.amount_cents, obj.amount_currency)

    @admin.display(description="remaining")
    def remaining(self, obj: AppliedCoupon) -> str:
        if obj.amount_cents_remaining is not None:
            return format_amount(obj.amount_cents_remaining, obj.amount_currency)
        if obj.frequency_duration_remaining is not None:
            return f"{obj.frequency_duration_remaining} period(s)"
        return "-"

    @admin.action(description="Remove from customer (terminate)")
    def remove(self, request: HttpRequest, queryset: QuerySet[AppliedCoupon]) -> None:
        done = 0
        for applied in queryset.filter(status=CouponStatus.ACTIVE):
            services.applied_coupon_terminate(applied.organization, applied_coupon_id=applied.pk)
            done += 1
        self.message_user(request, f"Terminated {done} applied coupon(s).", messages.SUCCESS)


__all__ = ["ChargeModel", "dry_run"]
