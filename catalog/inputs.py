"""Typed inputs of the catalog services (billing_project/core/inputs.py: `UNSET` is "not sent").

The API builds them from its input serializers' validated data, the admin from its forms; the
services read typed attributes. Creation and partial update take the same input: on update, a
field not sent stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing_project.core.inputs import UNSET, Fields, Unset, built, many, one


@dataclass(frozen=True)
class TaxFields(Fields):
    """`POST /taxes`, `PUT /taxes/{code}`. `rate` as the client sent it (a number or a numeric
    string, read exactly by the JSON parser); the service checks its range and digits."""

    name: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    rate: Decimal | int | str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    applied_to_organization: bool | Unset | None = UNSET


@dataclass(frozen=True)
class AddOnFields(Fields):
    """`POST /add_ons`, `PUT /add_ons/{code}`."""

    name: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    invoice_display_name: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    amount_cents: int | Unset | None = UNSET
    amount_currency: str | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET


@dataclass(frozen=True)
class FixedChargeFields(Fields):
    """One fixed charge: an item of a plan's `fixed_charges`, `POST/PUT /plans/{code}/fixed_charges`,
    or (with `id` naming the plan's fixed charge) an item of a subscription's
    `plan_overrides.fixed_charges`. `units` and `properties` amounts as the client sent them (the
    JSON parser keeps numbers exact); the service checks them."""

    id: str | Unset | None = UNSET
    add_on_id: str | Unset | None = UNSET
    add_on_code: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    charge_model: str | Unset | None = UNSET
    invoice_display_name: str | Unset | None = UNSET
    units: Decimal | int | str | Unset | None = UNSET
    pay_in_advance: bool | Unset | None = UNSET
    prorated: bool | Unset | None = UNSET
    properties: Mapping[str, Any] | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET
    apply_units_immediately: bool | Unset | None = UNSET
    cascade_updates: bool | Unset | None = UNSET


# --- coupons ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CouponTargets:
    """A coupon's `applies_to`: the plans or (not both) the billable metrics it is limited to."""

    plan_codes: list[str] | None = None
    billable_metric_codes: list[str] | None = None


@dataclass(frozen=True)
class CouponFields(Fields):
    """`POST /coupons`, `PUT /coupons/{code}`. `percentage_rate` as sent (the service checks its range
    and digits); `expiration_at` as RFC 3339 text (or a datetime from the admin)."""

    name: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    coupon_type: str | Unset | None = UNSET
    amount_cents: int | Unset | None = UNSET
    amount_currency: str | Unset | None = UNSET
    percentage_rate: Decimal | int | str | Unset | None = UNSET
    frequency: str | Unset | None = UNSET
    frequency_duration: int | Unset | None = UNSET
    expiration: str | Unset | None = UNSET
    expiration_at: datetime | str | Unset | None = UNSET
    reusable: bool | Unset | None = UNSET
    applies_to: CouponTargets | Unset | None = UNSET

    nested_fields = built(applies_to=one(CouponTargets))


@dataclass(frozen=True)
class AppliedCouponFields(Fields):
    """`POST /applied_coupons`: the customer, the coupon, and the customer's own terms (None: the
    coupon's)."""

    external_customer_id: str | None = None
    coupon_code: str | None = None
    amount_cents: int | None = None
    amount_currency: str | None = None
    percentage_rate: Decimal | int | str | None = None
    frequency: str | None = None
    frequency_duration: int | None = None


# --- billable metrics -------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricFilterFields:
    """A metric filter: an event property `key` and the `values` it may take (a partial update's
    item may lack them: refused)."""

    key: str | None = None
    values: list[str] | None = None


@dataclass(frozen=True)
class BillableMetricFields(Fields):
    """`POST /billable_metrics`, `PUT /billable_metrics/{code}`. `filters`, when sent, becomes the
    metric's filter list."""

    name: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    aggregation_type: str | Unset | None = UNSET
    field_name: str | Unset | None = UNSET
    recurring: bool | Unset | None = UNSET
    weighted_interval: str | Unset | None = UNSET
    rounding_function: str | Unset | None = UNSET
    rounding_precision: int | Unset | None = UNSET
    expression: str | Unset | None = UNSET
    filters: tuple[MetricFilterFields, ...] | Unset | None = UNSET

    nested_fields = built(filters=many(MetricFilterFields))


@dataclass(frozen=True)
class SampleEvent(Fields):
    """The event of `POST /billable_metrics/evaluate_expression`."""

    code: str | None = None
    timestamp: Decimal | int | str | None = None
    properties: Mapping[str, Any] | None = None


# --- plans and charges ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargeFilterFields(Fields):
    """One charge filter: `POST`/`PUT .../charges/{code}/filters[/{id}]` of a subscription, and each
    item of a charge override's `filters`. `properties` as the JSON parser read them (decimals
    exact); the service checks them against the charge model and `values` against the metric."""

    values: dict[str, list[str]] | Unset | None = UNSET
    properties: dict[str, Any] | Unset | None = UNSET
    invoice_display_name: str | Unset | None = UNSET


def _filters(data: Mapping[str, Any], name: str) -> list[ChargeFilterFields] | Unset | None:
    """A charge's `filters` sent, as a list of `ChargeFilterFields`."""
    items = data.get(name, UNSET)
    return [ChargeFilterFields.from_validated(item) for item in items] if isinstance(items, list) else items


@dataclass(frozen=True)
class ChargeOverrideFields(Fields):
    """`PUT /subscriptions/{external_id}/charges/{code}`: what a subscription may change of one
    charge of its plan (Lago's overridable fields). `filters`, when sent, replace the charge's
    filters (a filter with the same values keeps its id); `tax_codes` replace its taxes."""

    invoice_display_name: str | Unset | None = UNSET
    min_amount_cents: int | Unset | None = UNSET
    properties: dict[str, Any] | Unset | None = UNSET
    filters: list[ChargeFilterFields] | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET

    nested_fields = built(filters=_filters)


@dataclass(frozen=True)
class ChargeFields(Fields):
    """A charge of `POST/PUT /plans` (`charges[]`) and of `/plans/{code}/charges`. `id` (or `code`)
    names an existing charge of the plan; `billable_metric_code` is for callers inside bxb."""

    id: str | Unset | None = UNSET
    billable_metric_id: str | Unset | None = UNSET
    billable_metric_code: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    charge_model: str | Unset | None = UNSET
    pay_in_advance: bool | Unset | None = UNSET
    invoiceable: bool | Unset | None = UNSET
    prorated: bool | Unset | None = UNSET
    regroup_paid_fees: str | Unset | None = UNSET
    invoice_display_name: str | Unset | None = UNSET
    min_amount_cents: int | Unset | None = UNSET
    properties: Mapping[str, Any] | Unset | None = UNSET
    pricing_group_keys: list[str] | Unset | None = UNSET
    filters: list[ChargeFilterFields] | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET
    accepts_target_wallet: bool | Unset | None = UNSET

    nested_fields = built(filters=_filters)


@dataclass(frozen=True)
class CommitmentFields:
    """A plan's `minimum_commitment`."""

    amount_cents: int | Unset | None = UNSET
    invoice_display_name: str | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET


@dataclass(frozen=True)
class UsageThresholdFields:
    """A progressive billing threshold of a plan (a partial update's item may lack its amount: refused)."""

    amount_cents: int | None = None
    threshold_display_name: str | None = None
    recurring: bool | None = None


_PLAN_CHILDREN = {  # the nested inputs of a plan's body and of a subscription's plan overrides
    "fixed_charges": many(FixedChargeFields),
    "minimum_commitment": one(CommitmentFields),
    "usage_thresholds": many(UsageThresholdFields),
}


@dataclass(frozen=True)
class PlanFields(Fields):
    """`POST /plans`, `PUT /plans/{code}`. `trial_period` as the client sent it (the service checks
    its range and digits). `charges`, when sent, becomes the plan's charge list."""

    name: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    interval: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    invoice_display_name: str | Unset | None = UNSET
    amount_cents: int | Unset | None = UNSET
    amount_currency: str | Unset | None = UNSET
    pay_in_advance: bool | Unset | None = UNSET
    trial_period: Decimal | int | str | Unset | None = UNSET
    bill_charges_monthly: bool | Unset | None = UNSET
    bill_fixed_charges_monthly: bool | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET
    minimum_commitment: CommitmentFields | Unset | None = UNSET
    usage_thresholds: tuple[UsageThresholdFields, ...] | Unset | None = UNSET
    charges: tuple[ChargeFields, ...] | Unset | None = UNSET
    fixed_charges: tuple[FixedChargeFields, ...] | Unset | None = UNSET
    metadata: Mapping[str, str | None] | Unset | None = UNSET
    # carry the change over to the plans overridden for subscriptions (fixed charges and amount)
    cascade_updates: bool | Unset | None = UNSET

    nested_fields = built(**_PLAN_CHILDREN, charges=many(ChargeFields))


@dataclass(frozen=True)
class ChargeOverride(ChargeOverrideFields):
    """One `plan_overrides.charges[]` item: the overridable fields of `ChargeOverrideFields` for the
    parent plan's charge whose `id` it names (a partial update's item may lack it: refused)."""

    id: str | None = None


@dataclass(frozen=True)
class PlanOverrides(Fields):
    """A subscription's `plan_overrides`: the plan's fields a subscription may price differently."""

    name: str | Unset | None = UNSET
    invoice_display_name: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    amount_cents: int | Unset | None = UNSET
    amount_currency: str | Unset | None = UNSET
    trial_period: Decimal | int | str | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET
    minimum_commitment: CommitmentFields | Unset | None = UNSET
    usage_thresholds: tuple[UsageThresholdFields, ...] | Unset | None = UNSET
    metadata: Mapping[str, str | None] | Unset | None = UNSET
    charges: tuple[ChargeOverride, ...] | Unset | None = UNSET
    fixed_charges: tuple[FixedChargeFields, ...] | Unset | None = UNSET  # `id` names the plan's fixed charge

    nested_fields = built(**_PLAN_CHILDREN, charges=many(ChargeOverride))
