"""Input and output shapes of the catalog API (docs/lago-compatibility.md §2, docs/catalog.md).

Decimals leave as strings (percentage rates, as Lago's coupon object has them), except tax `rate`
and plan `trial_period`, which Lago types as JSON numbers: they are rendered by
`billing_project.core.money.decimal_number`, with the decimal's exact digits (docs/lago-compatibility.md).
Money is integer cents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing_project.core.api.schema import omitted_when_null
from billing_project.core.api.serializers import OutputSerializer, envelope, list_envelope, optional_list
from billing_project.core.api.unsupported import LagoOnly
from billing_project.core.bounds import MAX_AMOUNT_CENTS
from billing_project.core.money import decimal_number
from catalog import selectors
from catalog.models import (
    AppliedCoupon,
    BillableMetric,
    Charge,
    ChargeFilter,
    Coupon,
    FixedCharge,
    Plan,
    Tax,
    UsageThreshold,
)


def decimal_text(value: Decimal | None) -> str | None:
    """`20.0000` → "20.0"; `8.875` → "8.875": exact, without float."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def _text(max_length: int = 255, **kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=max_length, **kwargs)


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}]})
class NumberField(serializers.Field):
    """A number or numeric string, passed through untouched (the parser already made it a Decimal)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int | str | Decimal):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value

    default_error_messages = {"invalid": "A number or a numeric string is required."}


# --- Lago fields bxb refuses (docs/lago-compatibility.md, "Refused Lago fields") -------------------

_CASCADE = LagoOnly(
    "cascade_updates",
    "bxb does not carry a charge's change over to the plans overridden for subscriptions "
    "(the change applies to the plan itself, as Lago does without `cascade_updates`); a plan's "
    "and a fixed charge's `cascade_updates` are served (fixed charges and amount)",
)
PRICING_UNIT_REASON = "pricing units (a charge priced in a unit converted to the plan's currency) are not implemented"
PLAN_CREATE_LAGO_ONLY = (LagoOnly("charges[].applied_pricing_unit", PRICING_UNIT_REASON),)
PLAN_UPDATE_LAGO_ONLY = PLAN_CREATE_LAGO_ONLY  # `cascade_updates` with `charges`: refused by plan_update
CHARGE_LAGO_ONLY = (LagoOnly("applied_pricing_unit", PRICING_UNIT_REASON), _CASCADE)
CHARGE_FILTER_LAGO_ONLY = (_CASCADE,)
FIXED_CHARGE_LAGO_ONLY = (_CASCADE,)  # a subscription's own fixed charge has no override plans below it
CHARGE_DELETE_LAGO_ONLY = (LagoOnly("charge.cascade_updates", _CASCADE.reason),)
CHARGE_FILTER_DELETE_LAGO_ONLY = (LagoOnly("filter.cascade_updates", _CASCADE.reason),)


def _codes() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=255), required=False, allow_null=True)


# --- taxes ------------------------------------------------------------------------------------


class TaxInput(serializers.Serializer):
    name = _text()
    code = _text()
    rate = NumberField(help_text='Percent, e.g. 20 or "8.875".')
    description = _text(10_000)
    applied_to_organization = serializers.BooleanField(required=False, allow_null=True)


TaxInputEnvelope = envelope("TaxInputEnvelope", "tax", TaxInput)


class TaxOutput(OutputSerializer):
    lago_id = serializers.UUIDField(source="id")
    name = serializers.CharField()
    code = serializers.CharField()
    rate = serializers.SerializerMethodField()
    description = serializers.CharField()
    applied_to_organization = serializers.BooleanField()
    applied_to_billing_entities_codes = serializers.SerializerMethodField()
    add_ons_count = serializers.SerializerMethodField()
    customers_count = serializers.SerializerMethodField()
    plans_count = serializers.SerializerMethodField()
    charges_count = serializers.SerializerMethodField()
    commitments_count = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_rate(self, obj: Tax) -> float:
        return decimal_number(obj.rate)

    def get_applied_to_billing_entities_codes(self, obj: Tax) -> list[str]:
        return [] if obj._state.adding else selectors.tax_billing_entity_codes(obj)

    def _count(self, obj: Tax, relation: str) -> int:
        if obj._state.adding:
            return 0
        counted = getattr(obj, selectors.TAX_LINK_COUNT_PREFIX + relation, None)  # selectors.tax_list's columns
        return getattr(obj, relation).count() if counted is None else int(counted)

    def get_add_ons_count(self, obj: Tax) -> int:
        return self._count(obj, "add_on_links")

    def get_customers_count(self, obj: Tax) -> int:
        return self._count(obj, "customer_links")

    def get_plans_count(self, obj: Tax) -> int:
        return self._count(obj, "plan_links")

    def get_charges_count(self, obj: Tax) -> int:
        return self._count(obj, "charge_links")

    def get_commitments_count(self, obj: Tax) -> int:
        return self._count(obj, "commitment_links")


def taxes_data(taxes: Any) -> list[dict[str, Any]]:
    return [
        {
            "lago_id": str(tax.id),
            "name": tax.name,
            "code": tax.code,
            "rate": decimal_number(tax.rate),
            "description": tax.description,
            "applied_to_organization": tax.applied_to_organization,
            "created_at": serializers.DateTimeField().to_representation(tax.created_at),
        }
        for tax in taxes
    ]


class TaxSummary(OutputSerializer):
    lago_id = serializers.UUIDField()
    name = serializers.CharField()
    code = serializers.CharField()
    rate = serializers.FloatField()
    description = serializers.CharField()
    applied_to_organization = serializers.BooleanField()
    created_at = serializers.DateTimeField()


@extend_schema_field(TaxSummary(many=True))
class TaxesField(serializers.Field):
    """An object's taxes (`selectors.object_taxes`) as Lago's tax summaries; read-only."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        return taxes_data(selectors.object_taxes(value))


TaxEnvelope = envelope("TaxEnvelope", "tax", TaxOutput)
TaxListEnvelope = list_envelope("TaxListEnvelope", "taxes", TaxOutput)


# --- billable metrics -------------------------------------------------------------------------


class MetricFilterInput(serializers.Serializer):
    key = serializers.CharField(max_length=255)
    values = serializers.ListField(child=serializers.CharField(max_length=255), allow_empty=False)


class BillableMetricInput(serializers.Serializer):
    name = _text()
    code = _text()
    description = _text(10_000)
    aggregation_type = _text(32)
    field_name = _text()
    recurring = serializers.BooleanField(required=False, allow_null=True)
    weighted_interval = _text(16)
    rounding_function = _text(8)
    rounding_precision = serializers.IntegerField(required=False, allow_null=True, min_value=-15, max_value=15)
    expression = _text(10_000)
    filters = optional_list(MetricFilterInput())


BillableMetricInputEnvelope = envelope("BillableMetricInputEnvelope", "billable_metric", BillableMetricInput)


class MetricFilterOutput(OutputSerializer):
    key = serializers.CharField()
    values = serializers.ListField(child=serializers.CharField())


class BillableMetricSummary(OutputSerializer):
    """Lago's billable metric object without its counters, as an alert embeds it."""

    lago_id = serializers.UUIDField(source="id")
    name = serializers.CharField()
    code = serializers.CharField()
    description = serializers.CharField()
    aggregation_type = serializers.CharField()
    weighted_interval = serializers.CharField(allow_null=True)
    recurring = serializers.BooleanField()
    rounding_function = serializers.CharField(allow_null=True)
    rounding_precision = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    field_name = serializers.CharField(allow_null=True)
    expression = serializers.CharField(allow_null=True)
    filters = serializers.SerializerMethodField()

    @extend_schema_field(MetricFilterOutput(many=True))
    def get_filters(self, obj: BillableMetric) -> list[dict[str, Any]]:
        return [{"key": f.key, "values": list(f.values)} for f in selectors.billable_metric_filters(obj)]


class BillableMetricOutput(BillableMetricSummary):
    active_subscriptions_count = serializers.SerializerMethodField()
    draft_invoices_count = serializers.SerializerMethodField()
    plans_count = serializers.SerializerMethodField()

    def get_active_subscriptions_count(self, obj: BillableMetric) -> int:
        return 0

    def get_draft_invoices_count(self, obj: BillableMetric) -> int:
        return 0

    def get_plans_count(self, obj: BillableMetric) -> int:
        if obj.deleted_at is not None:
            return 0
        counted = getattr(obj, selectors.METRIC_PLANS_COUNT, None)  # selectors.billable_metric_list's column
        if counted is not None:
            return int(counted)
        return (
            Plan.live.filter(charges__billable_metric=obj, charges__deleted_at__isnull=True, parent__isnull=True)
            .distinct()
            .count()
        )


BillableMetricEnvelope = envelope("BillableMetricEnvelope", "billable_metric", BillableMetricOutput)
BillableMetricListEnvelope = list_envelope("BillableMetricListEnvelope", "billable_metrics", BillableMetricOutput)


class EvaluateEventInput(serializers.Serializer):
    code = _text()
    timestamp = NumberField()
    properties = serializers.DictField(required=False, allow_null=True)


class EvaluateExpressionInput(serializers.Serializer):
    expression = _text(10_000)
    event = EvaluateEventInput(required=False, allow_null=True)


class ExpressionResultOutput(serializers.Serializer):
    value = serializers.CharField()


ExpressionResultEnvelope = envelope("ExpressionResultEnvelope", "expression_result", ExpressionResultOutput)


# --- add-ons ----------------------------------------------------------------------------------


class AddOnInput(serializers.Serializer):
    name = _text()
    code = _text()
    invoice_display_name = _text()
    description = _text(10_000)
    amount_cents = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_AMOUNT_CENTS)
    amount_currency = _text(3)
    tax_codes = _codes()


AddOnInputEnvelope = envelope("AddOnInputEnvelope", "add_on", AddOnInput)


class AddOnOutput(serializers.Serializer):
    lago_id = serializers.UUIDField(source="id")
    name = serializers.CharField()
    code = serializers.CharField()
    invoice_display_name = serializers.CharField()
    description = serializers.CharField()
    amount_cents = serializers.IntegerField()
    amount_currency = serializers.CharField()
    created_at = serializers.DateTimeField()
    taxes = TaxesField()


AddOnEnvelope = envelope("AddOnEnvelope", "add_on", AddOnOutput)
AddOnListEnvelope = list_envelope("AddOnListEnvelope", "add_ons", AddOnOutput)


# --- plans and charges ------------------------------------------------------------------------


class ChargeFilterInput(serializers.Serializer):
    invoice_display_name = _text()
    properties = serializers.DictField(required=False, allow_null=True)
    values = serializers.DictField(child=serializers.ListField(child=serializers.CharField(max_length=255)))


class ChargeInput(serializers.Serializer):
    id = _text(64)
    billable_metric_id = _text(64)
    code = _text()
    charge_model = _text(32)
    pay_in_advance = serializers.BooleanField(required=False, allow_null=True)
    invoiceable = serializers.BooleanField(required=False, allow_null=True)
    prorated = serializers.BooleanField(required=False, allow_null=True)
    regroup_paid_fees = _text(16)
    invoice_display_name = _text()
    min_amount_cents = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_AMOUNT_CENTS
    )
    properties = serializers.DictField(required=False, allow_null=True)
    pricing_group_keys = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, allow_null=True
    )
    filters = optional_list(ChargeFilterInput())
    tax_codes = _codes()
    accepts_target_wallet = serializers.BooleanField(required=False, allow_null=True)


ChargeInputEnvelope = envelope("ChargeInputEnvelope", "charge", ChargeInput)


class FixedChargeInput(serializers.Serializer):
    id = _text(64)
    add_on_id = _text(64)
    add_on_code = _text()
    code = _text()
    charge_model = _text(16)
    invoice_display_name = _text()
    units = NumberField(help_text="Units (number or string).")
    pay_in_advance = serializers.BooleanField(required=False, allow_null=True)
    prorated = serializers.BooleanField(required=False, allow_null=True)
    properties = serializers.DictField(required=False, allow_null=True)
    tax_codes = _codes()
    apply_units_immediately = serializers.BooleanField(required=False, allow_null=True)
    cascade_updates = serializers.BooleanField(required=False, allow_null=True)


FixedChargeInputEnvelope = envelope("FixedChargeInputEnvelope", "fixed_charge", FixedChargeInput)


class MinimumCommitmentInput(serializers.Serializer):
    amount_cents = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_AMOUNT_CENTS)
    invoice_display_name = _text()
    tax_codes = _codes()


class UsageThresholdInput(serializers.Serializer):
    id = _text(64)
    amount_cents = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT_CENTS)
    threshold_display_name = _text()
    recurring = serializers.BooleanField(required=False, allow_null=True)


class PlanInput(serializers.Serializer):
    name = _text()
    code = _text()
    interval = _text(16)
    description = _text(10_000)
    invoice_display_name = _text()
    amount_cents = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_AMOUNT_CENTS)
    amount_currency = _text(3)
    pay_in_advance = serializers.BooleanField(required=False, allow_null=True)
    trial_period = NumberField(help_text="Days (number or string).")
    bill_charges_monthly = serializers.BooleanField(required=False, allow_null=True)
    bill_fixed_charges_monthly = serializers.BooleanField(required=False, allow_null=True)
    tax_codes = _codes()
    minimum_commitment = MinimumCommitmentInput(required=False, allow_null=True)
    usage_thresholds = optional_list(UsageThresholdInput())
    charges = optional_list(ChargeInput())
    fixed_charges = optional_list(FixedChargeInput())
    metadata = serializers.DictField(
        child=serializers.CharField(allow_null=True, allow_blank=True), required=False, allow_null=True
    )
    cascade_updates = serializers.BooleanField(required=False, allow_null=True)


PlanInputEnvelope = envelope("PlanInputEnvelope", "plan", PlanInput)


def _properties(charge_like: Charge | ChargeFilter) -> dict[str, Any]:
    return dict(charge_like.properties or {})


class ChargeFilterOutput(OutputSerializer):
    lago_id = serializers.UUIDField(source="id")
    invoice_display_name = serializers.CharField(allow_null=True)
    properties = serializers.SerializerMethodField()
    values = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    created_at = serializers.DateTimeField()

    def get_properties(self, obj: ChargeFilter) -> dict[str, Any]:
        return _properties(obj)

    def to_representation(self, instance: ChargeFilter) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["invoice_display_name"] = instance.invoice_display_name or None
        data["charge_code"] = instance.charge.code
        return data


class ChargeOutput(OutputSerializer):
    lago_id = serializers.UUIDField(source="id")
    lago_billable_metric_id = serializers.UUIDField(source="billable_metric_id")
    billable_metric_code = serializers.CharField(source="billable_metric.code")
    lago_parent_id = serializers.UUIDField(source="parent_id", allow_null=True)
    code = serializers.CharField()
    invoice_display_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    charge_model = serializers.CharField()
    invoiceable = serializers.BooleanField()
    regroup_paid_fees = serializers.CharField(allow_null=True)
    pay_in_advance = serializers.BooleanField()
    prorated = serializers.BooleanField()
    min_amount_cents = serializers.IntegerField()
    accepts_target_wallet = serializers.BooleanField()
    properties = serializers.SerializerMethodField()
    pricing_group_keys = serializers.ListField(child=serializers.CharField())
    filters = serializers.SerializerMethodField()
    taxes = TaxesField()
    applied_pricing_unit = serializers.SerializerMethodField()

    def get_properties(self, obj: Charge) -> dict[str, Any]:
        return _properties(obj)

    @extend_schema_field(ChargeFilterOutput(many=True))
    def get_filters(self, obj: Charge) -> list[dict[str, Any]]:
        return ChargeFilterOutput(selectors.charge_filters(obj), many=True).data

    def get_applied_pricing_unit(self, obj: Charge) -> dict[str, Any] | None:
        return None


ChargeEnvelope = envelope("ChargeEnvelope", "charge", ChargeOutput)
ChargeListEnvelope = list_envelope("ChargeListEnvelope", "charges", ChargeOutput)


class FixedChargeOutput(OutputSerializer):
    """Lago's fixed charge object. `units` is the plan's quantity, or (`context["units"]`, by fixed
    charge id) a subscription's current quantity."""

    lago_id = serializers.UUIDField(source="id")
    lago_add_on_id = serializers.UUIDField(source="add_on_id")
    lago_parent_id = serializers.UUIDField(source="parent_id", allow_null=True)
    add_on_code = serializers.CharField(source="add_on.code")
    code = serializers.CharField()
    invoice_display_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    charge_model = serializers.CharField()
    pay_in_advance = serializers.BooleanField()
    prorated = serializers.BooleanField()
    units = serializers.SerializerMethodField()
    properties = serializers.SerializerMethodField()
    taxes = TaxesField()

    def get_units(self, obj: FixedCharge) -> float:
        return decimal_number((self.context.get("units") or {}).get(obj.id, obj.units))

    def get_properties(self, obj: FixedCharge) -> dict[str, Any]:
        return dict(obj.properties or {})


FixedChargeEnvelope = envelope("FixedChargeEnvelope", "fixed_charge", FixedChargeOutput)
FixedChargeListEnvelope = list_envelope("FixedChargeListEnvelope", "fixed_charges", FixedChargeOutput)


class UsageThresholdOutput(OutputSerializer):
    lago_id = serializers.UUIDField(source="id")
    amount_cents = serializers.IntegerField()
    threshold_display_name = serializers.CharField(allow_null=True)
    recurring = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance: UsageThreshold) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["threshold_display_name"] = instance.threshold_display_name or None
        return data


class CommitmentOutput(OutputSerializer):
    lago_id = serializers.UUIDField(source="id")
    plan_code = serializers.CharField(source="plan.code")
    commitment_type = serializers.CharField()
    amount_cents = serializers.IntegerField()
    invoice_display_name = serializers.CharField()
    interval = serializers.CharField(source="plan.interval")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    taxes = TaxesField()


@omitted_when_null("minimum_commitment", "metadata")
class PlanOutput(OutputSerializer):
    lago_id = serializers.UUIDField(source="id")
    name = serializers.CharField()
    invoice_display_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    code = serializers.CharField()
    interval = serializers.CharField()
    description = serializers.CharField()
    amount_cents = serializers.IntegerField()
    amount_currency = serializers.CharField()
    trial_period = serializers.SerializerMethodField()
    pay_in_advance = serializers.BooleanField()
    bill_charges_monthly = serializers.BooleanField(allow_null=True)
    bill_fixed_charges_monthly = serializers.BooleanField(allow_null=True)
    customers_count = serializers.SerializerMethodField()
    active_subscriptions_count = serializers.SerializerMethodField()
    draft_invoices_count = serializers.SerializerMethodField()
    parent_id = serializers.UUIDField(allow_null=True)
    pending_deletion = serializers.BooleanField()
    charges = serializers.SerializerMethodField()
    fixed_charges = serializers.SerializerMethodField()
    usage_thresholds = serializers.SerializerMethodField()
    applicable_usage_thresholds = serializers.SerializerMethodField()
    minimum_commitment = serializers.SerializerMethodField()
    taxes = TaxesField()
    metadata = serializers.SerializerMethodField()
    entitlements = serializers.SerializerMethodField()

    def get_trial_period(self, obj: Plan) -> float:
        return decimal_number(obj.trial_period)

    def _counts(self, obj: Plan) -> tuple[int, int]:
        # Both counts in one statement, read once per plan for the two fields (and, in a list, per
        # plan of the page: the child serializer is shared).
        read: dict[Any, tuple[int, int]] = self.__dict__.setdefault("_plan_counts", {})
        if obj.pk not in read:
            read[obj.pk] = selectors.plan_usage_counts(obj)
        return read[obj.pk]

    def get_customers_count(self, obj: Plan) -> int:
        return self._counts(obj)[1]

    def get_active_subscriptions_count(self, obj: Plan) -> int:
        return self._counts(obj)[0]

    def get_draft_invoices_count(self, obj: Plan) -> int:
        return 0  # not counted: bxb has always answered 0 here

    @extend_schema_field(ChargeOutput(many=True))
    def get_charges(self, obj: Plan) -> list[dict[str, Any]]:
        return ChargeOutput(selectors.plan_charges(obj), many=True).data

    @extend_schema_field(FixedChargeOutput(many=True))
    def get_fixed_charges(self, obj: Plan) -> list[dict[str, Any]]:
        return list(FixedChargeOutput(selectors.plan_fixed_charges(obj), many=True).data)

    @extend_schema_field(UsageThresholdOutput(many=True))
    def get_usage_thresholds(self, obj: Plan) -> list[dict[str, Any]]:
        return UsageThresholdOutput(selectors.plan_usage_thresholds(obj), many=True).data

    @extend_schema_field(UsageThresholdOutput(many=True))
    def get_applicable_usage_thresholds(self, obj: Plan) -> list[dict[str, Any]]:
        return self.get_usage_thresholds(obj)

    @extend_schema_field(CommitmentOutput(allow_null=True))
    def get_minimum_commitment(self, obj: Plan) -> dict[str, Any] | None:
        commitment = selectors.plan_minimum_commitment(obj)
        return CommitmentOutput(commitment).data if commitment else None

    def get_metadata(self, obj: Plan) -> dict[str, Any] | None:
        return dict(obj.metadata) if obj.metadata else None

    def get_entitlements(self, obj: Plan) -> list[Any]:
        return []

    def to_representation(self, instance: Plan) -> dict[str, Any]:
        selectors.plan_related_rows(instance)  # what the plan's read carried, before `taxes` is read
        data = super().to_representation(instance)
        if data.get("minimum_commitment") is None:
            data.pop("minimum_commitment", None)  # Lago includes it only when the plan has one
        if data.get("metadata") is None:
            data.pop("metadata", None)
        return data


PlanEnvelope = envelope("PlanEnvelope", "plan", PlanOutput)
PlanListEnvelope = list_envelope("PlanListEnvelope", "plans", PlanOutput)


# --- coupons ----------------------------------------------------------------------------------


class AppliesToInput(serializers.Serializer):
    plan_codes = serializers.ListField(child=serializers.CharField(max_length=255), required=False, allow_null=True)
    billable_metric_codes = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, allow_null=True
    )


class CouponInput(serializers.Serializer):
    name = _text()
    code = _text()
    description = _text(10_000)
    coupon_type = _text(16)
    amount_cents = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_AMOUNT_CENTS)
    amount_currency = _text(3)
    percentage_rate = NumberField()
    frequency = _text(16)
    frequency_duration = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100_000)
    expiration = _text(16)
    expiration_at = _text(64)
    reusable = serializers.BooleanField(required=False, allow_null=True)
    applies_to = AppliesToInput(required=False, allow_null=True)


CouponInputEnvelope = envelope("CouponInputEnvelope", "coupon", CouponInput)


class CouponOutput(serializers.Serializer):
    lago_id = serializers.UUIDField(source="id")
    name = serializers.CharField()
    code = serializers.CharField()
    description = serializers.CharField()
    coupon_type = serializers.CharField()
    amount_cents = serializers.IntegerField(allow_null=True)
    amount_currency = serializers.CharField(allow_null=True)
    percentage_rate = serializers.SerializerMethodField()
    frequency = serializers.CharField()
    frequency_duration = serializers.IntegerField(allow_null=True)
    reusable = serializers.BooleanField()
    limited_plans = serializers.BooleanField()
    limited_billable_metrics = serializers.BooleanField()
    plan_codes = serializers.SerializerMethodField()
    billable_metric_codes = serializers.SerializerMethodField()
    expiration = serializers.CharField()
    expiration_at = serializers.DateTimeField(allow_null=True)
    terminated_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_percentage_rate(self, obj: Coupon) -> str | None:
        return decimal_text(obj.percentage_rate)

    def get_plan_codes(self, obj: Coupon) -> list[str]:
        return [t.plan.code for t in obj.targets.all() if t.plan_id]

    def get_billable_metric_codes(self, obj: Coupon) -> list[str]:
        return [t.billable_metric.code for t in obj.targets.all() if t.billable_metric_id]


CouponEnvelope = envelope("CouponEnvelope", "coupon", CouponOutput)
CouponListEnvelope = list_envelope("CouponListEnvelope", "coupons", CouponOutput)


class AppliedCouponInput(serializers.Serializer):
    external_customer_id = _text()
    coupon_code = _text()
    amount_cents = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_AMOUNT_CENTS)
    amount_currency = _text(3)
    percentage_rate = NumberField()
    frequency = _text(16)
    frequency_duration = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100_000)


AppliedCouponInputEnvelope = envelope("AppliedCouponInputEnvelope", "applied_coupon", AppliedCouponInput)


class AppliedCouponOutput(serializers.Serializer):
    lago_id = serializers.UUIDField(source="id")
    lago_coupon_id = serializers.UUIDField(source="coupon_id")
    coupon_code = serializers.CharField(source="coupon.code")
    coupon_name = serializers.CharField(source="coupon.name")
    lago_customer_id = serializers.UUIDField(source="customer_id")
    external_customer_id = serializers.CharField(source="customer.external_id")
    status = serializers.CharField()
    amount_cents = serializers.IntegerField(allow_null=True)
    amount_cents_remaining = serializers.IntegerField(allow_null=True)
    amount_currency = serializers.CharField(allow_null=True)
    percentage_rate = serializers.SerializerMethodField()
    frequency = serializers.CharField()
    frequency_duration = serializers.IntegerField(allow_null=True)
    frequency_duration_remaining = serializers.IntegerField(allow_null=True)
    expiration_at = serializers.DateTimeField(source="coupon.expiration_at", allow_null=True)
    created_at = serializers.DateTimeField()
    terminated_at = serializers.DateTimeField(allow_null=True)
    credits = serializers.SerializerMethodField()

    def get_percentage_rate(self, obj: AppliedCoupon) -> str | None:
        return decimal_text(obj.percentage_rate)

    def get_credits(self, obj: AppliedCoupon) -> list[Any]:
        return []


AppliedCouponEnvelope = envelope("AppliedCouponEnvelope", "applied_coupon", AppliedCouponOutput)
AppliedCouponListEnvelope = list_envelope("AppliedCouponListEnvelope", "applied_coupons", AppliedCouponOutput)
ChargeFilterInputEnvelope = envelope("ChargeFilterInputEnvelope", "filter", ChargeFilterInput)


class ChargeFilterUpdateInput(ChargeFilterInput):
    values = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(max_length=255)), required=False, allow_null=True
    )


ChargeFilterUpdateEnvelope = envelope("ChargeFilterUpdateEnvelope", "filter", ChargeFilterUpdateInput)
ChargeFilterEnvelope = envelope("ChargeFilterEnvelope", "filter", ChargeFilterOutput)
ChargeFilterListEnvelope = list_envelope("ChargeFilterListEnvelope", "filters", ChargeFilterOutput)


class MetadataEnvelope(serializers.Serializer):
    metadata = serializers.DictField(child=serializers.CharField(allow_null=True))
