"""Plans, their charges, charge filters, usage thresholds and minimum commitment.

The API is described in docs/catalog.md; commitment and thresholds in docs/billing-semantics.md
§5.8 and §10.

The services take the typed inputs of `catalog/inputs.py` (built by the API from its input
serializers, by the admin from its forms) and keep the domain's rules: a metric's filter values,
pricing properties, codes taken, amounts in bounds.

Charge properties are checked by the pure pricing module (`catalog.pricing`), the same functions
the admin uses, so the API and the finance console refuse the same things with the same codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from billing_project.core.bulk import update_rows
from billing_project.core.errors import NotFoundFailure, ValidationFailure, merge_details
from billing_project.core.found import found
from billing_project.core.inputs import UNSET, Unset, empty, or_none, sent
from catalog import pricing, signals
from catalog.hooks import plan_usage
from catalog.inputs import (
    ChargeFields,
    ChargeFilterFields,
    ChargeOverride,
    ChargeOverrideFields,
    CommitmentFields,
    PlanFields,
    PlanOverrides,
    UsageThresholdFields,
)
from catalog.models import (
    ALL_FILTER_VALUES,
    BillableMetric,
    BillableMetricFilter,
    Charge,
    ChargeFilter,
    ChargeTax,
    Commitment,
    CommitmentTax,
    CommitmentType,
    Plan,
    PlanInterval,
    PlanTax,
    RegroupPaidFees,
    Tax,
    UsageThreshold,
)
from catalog.selectors import charge_filter_with_values
from catalog.services.common import (
    amount_cents_codes,
    as_uuid,
    assign_plan_item_code,
    copied,
    currency_codes,
    exact_decimal,
    filter_values_key,
    next_plan_item_code,
    plan_for_update,
    plan_item_for_update,
    save_with_code,
    set_links,
    soft_delete,
    sync_plan_items,
    taxes_for_codes,
    write_plan_item,
)
from catalog.services.fixed_charges import fixed_charges_copy, fixed_charges_override, fixed_charges_sync
from customers.models import Organization

MONTHLY_BILLABLE_INTERVALS = {PlanInterval.YEARLY, PlanInterval.SEMIANNUAL}


# --- charges ----------------------------------------------------------------------------------


def properties_errors(charge_model: str, properties: Mapping[str, Any]) -> dict[str, list[str]]:
    """Lago reports property problems as `{"properties": [codes]}` (Charge#validate_properties)."""
    errors = pricing.validate_properties(charge_model, properties)
    if not errors:
        return {}
    if "charge_model" in errors:
        return {"charge_model": errors["charge_model"]}
    return {"properties": pricing.flatten_errors(errors)}


def normalize_properties(
    charge_model: str, properties: Mapping[str, Any] | None, pricing_group_keys: list[str] | None = None
) -> dict[str, Any]:
    source = dict(properties) if isinstance(properties, Mapping) else {}
    if pricing_group_keys is not None and not source.get("pricing_group_keys"):
        source["pricing_group_keys"] = pricing_group_keys
    return pricing.filter_properties(charge_model, source)


def charge_rule_errors(charge: Charge, metric: BillableMetric) -> dict[str, list[str]]:
    return pricing.validate_charge_model_for_metric(
        charge.charge_model,
        aggregation_type=metric.aggregation_type,
        recurring=metric.recurring,
        pay_in_advance=charge.pay_in_advance,
        prorated=charge.prorated,
        invoiceable=charge.invoiceable,
        min_amount_cents=charge.min_amount_cents,
        regroup_paid_fees=charge.regroup_paid_fees,
    )


@dataclass(frozen=True)
class _FilterRow:
    """A charge filter checked against its metric, as it is stored."""

    values: dict[str, list[str]]
    properties: dict[str, Any]
    invoice_display_name: str


def _filters_input(
    metric: BillableMetric, charge_model: str, filters: Sequence[ChargeFilterFields]
) -> tuple[list[_FilterRow], dict[str, list[str]]]:
    """Check charge filters against the metric's filters (keys and values it declares); return them
    as stored."""
    metric_filters = {f.key: set(f.values) for f in BillableMetricFilter.live.filter(billable_metric=metric)}
    normalized: list[_FilterRow] = []
    errors: dict[str, list[str]] = {}
    for item in filters:
        values = or_none(item.values)
        if not values:
            errors = merge_details(errors, {"filters": ["value_is_invalid"]})
            continue
        clean: dict[str, list[str]] = {}
        for key, key_values in values.items():
            if (
                key not in metric_filters
                or not key_values
                or not all(v == ALL_FILTER_VALUES or v in metric_filters[key] for v in key_values)
            ):
                errors = merge_details(errors, {"filters": ["value_is_invalid"]})
                break
            clean[key] = list(dict.fromkeys(key_values))
        properties = normalize_properties(charge_model, or_none(item.properties) or {})
        errors = merge_details(errors, properties_errors(charge_model, properties))
        normalized.append(_FilterRow(clean, properties, or_none(item.invoice_display_name) or ""))
    return normalized, errors


def _filter_create(charge: Charge, item: _FilterRow) -> ChargeFilter:
    return ChargeFilter.objects.create(
        organization_id=charge.organization_id, charge=charge, values=item.values, properties=item.properties,
        invoice_display_name=item.invoice_display_name,
    )  # fmt: skip


def _sync_filters(charge: Charge, filters: list[_FilterRow]) -> None:
    """Replace the charge's filters; a filter with the same values keeps its row (and id)."""
    now = timezone.now()
    current = list(ChargeFilter.live.filter(charge=charge))
    by_values = {filter_values_key(f.values): f for f in current}
    kept: set[Any] = set()
    for item in filters:
        existing = by_values.get(filter_values_key(item.values))
        if existing is not None and existing.pk not in kept:
            existing.properties = item.properties
            existing.invoice_display_name = item.invoice_display_name
            existing.save(update_fields=["properties", "invoice_display_name", "updated_at"])
            kept.add(existing.pk)
        else:
            kept.add(_filter_create(charge, item).pk)
    for charge_filter in current:
        if charge_filter.pk not in kept:
            soft_delete(charge_filter, now)


def next_charge_code(plan: Plan, base: str, taken: set[str]) -> str:
    return next_plan_item_code(Charge, plan, base, taken)


def _bool(value: bool | Unset | None, default: bool) -> bool:
    return default if value is None or value is UNSET else bool(value)


@dataclass
class _ChargeExtras:
    """What is saved after the charge row: its filters and taxes (None: unchanged)."""

    filters: list[_FilterRow] | None = None
    taxes: list[Tax] | None = None


def _charge_metric(organization: Organization, data: ChargeFields) -> BillableMetric:
    metric_id = or_none(data.billable_metric_id)
    metric = None
    if metric_id and (pk := as_uuid(metric_id)):
        metric = BillableMetric.live.filter(organization=organization, pk=pk).first()
    if metric is None:
        metric_code = or_none(data.billable_metric_code)
        if not metric_id and metric_code:
            metric = BillableMetric.live.filter(organization=organization, code=metric_code).first()
        if metric is None:
            raise NotFoundFailure("billable_metric")
    return metric


def _charge_apply(
    organization: Organization,
    plan: Plan,
    charge: Charge | None,
    data: ChargeFields,
    *,
    locked: bool,
    taken_codes: set[str],
) -> tuple[Charge, _ChargeExtras, dict[str, list[str]]]:
    """Build (unsaved) the charge for `data`; return it, the extras to save after it, and errors.

    `locked` (the plan has subscriptions): as in Lago, only properties, filters, display name,
    spending minimum and taxes of an existing charge change.
    """
    errors: dict[str, list[str]] = {}
    creating = charge is None
    if charge is None:
        charge = Charge(organization=organization, plan=plan, billable_metric=_charge_metric(organization, data))
    metric_changed = False
    new_metric_id = or_none(data.billable_metric_id)
    if not creating and not locked and new_metric_id:
        new_id = as_uuid(new_metric_id)
        if new_id != charge.billable_metric_id:
            new_metric = found(
                BillableMetric.live.filter(organization=organization, pk=new_id).first() if new_id else None,
                "billable_metric",
            )
            charge.billable_metric = new_metric
            metric_changed = True
    metric = charge.billable_metric

    if creating or not locked:
        if or_none(data.charge_model) is not None or creating:
            charge.charge_model = or_none(data.charge_model) or ""
        charge.pay_in_advance = _bool(data.pay_in_advance, charge.pay_in_advance)
        charge.invoiceable = _bool(data.invoiceable, charge.invoiceable)
        charge.prorated = _bool(data.prorated, charge.prorated)
        if sent(data.regroup_paid_fees):
            charge.regroup_paid_fees = or_none(data.regroup_paid_fees) or None
        if (accepts := or_none(data.accepts_target_wallet)) is not None:
            charge.accepts_target_wallet = bool(accepts)
    if charge.charge_model not in pricing.CHARGE_MODELS:
        errors["charge_model"] = ["value_is_invalid" if charge.charge_model else "value_is_mandatory"]
    if charge.regroup_paid_fees not in (None, *RegroupPaidFees.values):
        errors["regroup_paid_fees"] = ["value_is_invalid"]
    if sent(data.invoice_display_name):
        charge.invoice_display_name = or_none(data.invoice_display_name) or ""
    min_amount_cents = or_none(data.min_amount_cents)
    if min_amount_cents is not None and (creating or not locked):
        if codes := amount_cents_codes(min_amount_cents, required=False):
            errors["min_amount_cents"] = codes
        else:
            charge.min_amount_cents = min_amount_cents
    errors.update(
        assign_plan_item_code(
            charge,
            plan,
            or_none(data.code),
            creating=creating,
            locked=locked,
            taken=taken_codes,
            base=lambda: metric.code,
        )
    )

    extras = _ChargeExtras()
    if not errors.get("charge_model"):
        model_changed = not creating and charge.charge_model != Charge.objects.get(pk=charge.pk).charge_model
        if sent(data.properties) or sent(data.pricing_group_keys) or creating or model_changed:
            source = or_none(data.properties) if sent(data.properties) else charge.properties
            charge.properties = normalize_properties(
                charge.charge_model, source or {}, or_none(data.pricing_group_keys)
            )
        errors = merge_details(errors, properties_errors(charge.charge_model, charge.properties))
        keys = charge.properties.get("pricing_group_keys")
        charge.pricing_group_keys = list(keys) if isinstance(keys, list) else []
        errors = merge_details(errors, charge_rule_errors(charge, metric))
        filters = or_none(data.filters)
        if filters is not None:
            extras.filters, filter_errors = _filters_input(metric, charge.charge_model, filters)
            errors = merge_details(errors, filter_errors)
        elif metric_changed:
            extras.filters = []  # the old metric's filters mean nothing on the new one
    if (tax_codes := or_none(data.tax_codes)) is not None:
        extras.taxes = taxes_for_codes(organization, tax_codes)
    return charge, extras, errors


def _charge_save(charge: Charge, extras: _ChargeExtras) -> Charge:
    save_with_code(charge)
    if extras.filters is not None:
        _sync_filters(charge, extras.filters)
    if extras.taxes is not None:
        set_links(charge, ChargeTax, "charge", extras.taxes)
    return charge


def _charge_discard(charge: Charge, now: datetime) -> None:
    update_rows(ChargeFilter.live.filter(charge=charge), deleted_at=now, updated_at=now)
    soft_delete(charge, now)


def _sync_charges(organization: Organization, plan: Plan, items: Sequence[ChargeFields], *, locked: bool) -> None:
    """Lago's Plans::UpdateService#process_charges: the list sent becomes the plan's charges.

    A charge sent with the `id` (or `code`) of an existing charge updates it and keeps its id;
    others are created; existing charges not in the list are deleted (soft).
    """
    existing = {
        str(c.pk): c for c in Charge.live.select_for_update().filter(plan=plan).select_related("billable_metric")
    }

    def apply(
        item: ChargeFields, match: Charge | None, taken: set[str]
    ) -> tuple[tuple[Charge, _ChargeExtras], dict[str, list[str]]]:
        charge, extras, errors = _charge_apply(organization, plan, match, item, locked=locked, taken_codes=taken)
        return (charge, extras), errors

    sync_plan_items(existing, items, apply=apply, discard=_charge_discard, save=lambda built: _charge_save(*built))


# --- thresholds and commitment ----------------------------------------------------------------


def _sync_thresholds(organization: Organization, plan: Plan, items: Sequence[UsageThresholdFields] | None) -> None:
    wanted: list[tuple[int, bool, str]] = []
    for item in items or ():
        if item.amount_cents is None or item.amount_cents <= 0:
            raise ValidationFailure.single("usage_thresholds", "value_is_invalid")
        wanted.append((item.amount_cents, bool(item.recurring), item.threshold_display_name or ""))
    if len({(a, r) for a, r, _ in wanted}) != len(wanted) or sum(1 for _, r, _ in wanted if r) > 1:
        raise ValidationFailure.single("usage_thresholds", "value_is_duplicated")
    now = timezone.now()
    current = {(t.amount_cents, t.recurring): t for t in UsageThreshold.live.filter(plan=plan)}
    for amount, recurring, name in wanted:
        threshold = current.pop((amount, recurring), None)
        if threshold is None:
            UsageThreshold.objects.create(
                organization=organization, plan=plan, amount_cents=amount, recurring=recurring,
                threshold_display_name=name,
            )  # fmt: skip
        elif threshold.threshold_display_name != name:
            threshold.threshold_display_name = name
            threshold.save(update_fields=["threshold_display_name", "updated_at"])
    for threshold in current.values():
        soft_delete(threshold, now)


def _sync_commitment(organization: Organization, plan: Plan, data: CommitmentFields | None) -> None:
    """The plan's minimum commitment; None (or nothing sent in it) removes it."""
    commitment = Commitment.objects.filter(plan=plan, commitment_type=CommitmentType.MINIMUM_COMMITMENT).first()
    if data is None or empty(data):
        if commitment is not None:
            commitment.delete()
        return
    amount_cents = or_none(data.amount_cents)
    if commitment is None and amount_cents is None:
        raise ValidationFailure.single("minimum_commitment.amount_cents", "value_is_mandatory")
    if codes := amount_cents_codes(amount_cents, required=False):
        raise ValidationFailure({"minimum_commitment.amount_cents": codes})
    tax_codes = or_none(data.tax_codes)
    taxes = taxes_for_codes(organization, tax_codes) if tax_codes is not None else None
    if commitment is None:
        commitment = Commitment(plan=plan, commitment_type=CommitmentType.MINIMUM_COMMITMENT)
    if amount_cents is not None:
        commitment.amount_cents = amount_cents
    if sent(data.invoice_display_name):
        commitment.invoice_display_name = or_none(data.invoice_display_name) or ""
    commitment.save()
    if taxes is not None:
        set_links(commitment, CommitmentTax, "commitment", taxes)


# --- plans ------------------------------------------------------------------------------------

_PLAN_TEXT = ("name", "invoice_display_name", "description")


def _trial(value: object) -> Decimal | None:
    """Trial days (a number or numeric text as sent): 0 to 100,000 with at most 5 decimals (stored exactly)."""
    return exact_decimal(value, places=5, minimum=Decimal(0), maximum=Decimal(100_000))


def _plan_errors(organization: Organization, plan: Plan, data: PlanFields, *, creating: bool) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not plan.name.strip():
        errors["name"] = ["value_is_mandatory"]
    if not plan.code.strip():
        errors["code"] = ["value_is_mandatory"]
    elif (
        plan.parent_id is None
        and Plan.live.filter(organization=organization, code=plan.code, parent__isnull=True)
        .exclude(pk=plan.pk)
        .exists()
    ):
        errors["code"] = ["value_already_exist"]
    if plan.interval not in PlanInterval.values:
        errors["interval"] = ["value_is_mandatory" if not plan.interval else "value_is_invalid"]
    if creating or sent(data.amount_cents):
        if codes := amount_cents_codes(or_none(data.amount_cents), required=True):
            errors["amount_cents"] = codes
    if creating or sent(data.amount_currency):
        if codes := currency_codes(or_none(data.amount_currency), required=True):
            errors["amount_currency"] = codes
    if (trial := or_none(data.trial_period)) is not None and _trial(trial) is None:
        errors["trial_period"] = ["value_is_invalid"]
    return errors


def _plan_apply(plan: Plan, data: PlanFields, *, locked: bool) -> None:
    for field in _PLAN_TEXT:
        if sent(text := getattr(data, field)):
            setattr(plan, field, text or "")
    if isinstance(amount_cents := or_none(data.amount_cents), int):
        plan.amount_cents = amount_cents
    if (metadata := or_none(data.metadata)) is not None:
        plan.metadata = dict(metadata)
    if locked:
        return
    if currency := or_none(data.amount_currency):
        plan.amount_currency = currency
    if code := or_none(data.code):
        plan.code = code
    if (interval := or_none(data.interval)) is not None:
        plan.interval = interval
    if (pay_in_advance := or_none(data.pay_in_advance)) is not None:
        plan.pay_in_advance = bool(pay_in_advance)
    if (trial_period := or_none(data.trial_period)) is not None and (trial := _trial(trial_period)) is not None:
        plan.trial_period = trial
    for field in ("bill_charges_monthly", "bill_fixed_charges_monthly"):
        if sent(value := getattr(data, field)):
            setattr(plan, field, bool(value) if value is not None else None)
    if plan.interval not in MONTHLY_BILLABLE_INTERVALS:
        plan.bill_charges_monthly = None
        plan.bill_fixed_charges_monthly = None
    else:
        plan.bill_charges_monthly = bool(plan.bill_charges_monthly)
        plan.bill_fixed_charges_monthly = bool(plan.bill_fixed_charges_monthly)


def _plan_extras(organization: Organization, plan: Plan, data: PlanFields | PlanOverrides) -> None:
    """The plan's taxes, minimum commitment and usage thresholds, when sent."""
    if (tax_codes := or_none(data.tax_codes)) is not None:
        set_links(plan, PlanTax, "plan", taxes_for_codes(organization, tax_codes))
    if sent(data.minimum_commitment):
        _sync_commitment(organization, plan, or_none(data.minimum_commitment))
    if sent(data.usage_thresholds):
        _sync_thresholds(organization, plan, or_none(data.usage_thresholds))


def _plan_children(
    plan: Plan, data: PlanFields, organization: Organization, *, locked: bool, cascade: bool = False
) -> None:
    _plan_extras(organization, plan, data)
    if (charges := or_none(data.charges)) is not None:
        _sync_charges(organization, plan, charges, locked=locked)
    if (fixed_charges := or_none(data.fixed_charges)) is not None:
        fixed_charges_sync(organization, plan, list(fixed_charges), locked=locked, cascade=cascade)


@transaction.atomic
def plan_create(organization: Organization, *, data: PlanFields) -> Plan:
    plan = Plan(organization=organization, name="", code="", interval="", amount_currency="")
    _plan_apply(plan, data, locked=False)
    if errors := _plan_errors(organization, plan, data, creating=True):
        raise ValidationFailure(errors)
    save_with_code(plan)
    _plan_children(plan, data, organization, locked=False)
    return plan


@transaction.atomic
def plan_update(organization: Organization, *, code: str, data: PlanFields) -> Plan:
    """Partial update, as Lago's Plans::UpdateService.

    * `charges`, when sent, becomes the plan's charge list (see `_sync_charges`); when absent the
      charges stay as they are.
    * `cascade_updates`: the fixed charges' changes and a new amount reach the plans overridden for
      subscriptions (`fixed_charges_sync`; the overrides still at the old amount take the new one);
      refused with `charges` (their cascade is not implemented).
    * Once subscriptions use the plan (`catalog.hooks.PlanUsage.in_use`), its
      code, interval, pay_in_advance, currency, trial period and billing cadence are frozen and
      existing charges keep their model, flags and spending minimum; name, description, amount,
      taxes, thresholds, commitment, metadata and charge prices may still change (Lago's
      Plans::UpdateService). `signals.plan_updated` (on commit, with `old_amount_cents`) lets
      subscriptions cancel pending downgrades that an amount change made irrelevant and invoicing
      refresh draft invoices, as Lago does.
    """
    cascade = bool(or_none(data.cascade_updates))
    if cascade and or_none(data.charges) is not None:
        # Lago's cascade also carries charges over; bxb carries fixed charges and the amount only.
        raise ValidationFailure.single("cascade_updates", "value_is_not_supported")
    plan = plan_for_update(organization, code)
    old_amount_cents = plan.amount_cents
    locked = plan_usage.get().in_use(plan)
    _plan_apply(plan, data, locked=locked)
    if errors := _plan_errors(organization, plan, data, creating=False):
        raise ValidationFailure(errors)
    save_with_code(plan)
    _plan_children(plan, data, organization, locked=locked, cascade=cascade)
    if cascade and plan.amount_cents != old_amount_cents:
        # Lago: the override plans still at the old amount take the new one.
        for child in Plan.live.select_for_update().filter(parent=plan, amount_cents=old_amount_cents):
            child.amount_cents = plan.amount_cents
            child.save(update_fields=["amount_cents", "updated_at"])
    transaction.on_commit(
        lambda: signals.plan_updated.send(
            sender=Plan, plan=plan, organization=organization, old_amount_cents=old_amount_cents
        )
    )
    return plan


@transaction.atomic
def plan_delete(organization: Organization, *, code: str) -> Plan:
    """Delete a plan and its overrides (Lago marks it `pending_deletion` and discards it).

    The plan's rows stay (charges included) so the subscriptions app, on `plan_deleted`, can still
    bill the closing period when it terminates the subscriptions.
    """
    plan = plan_for_update(organization, code)
    now = timezone.now()
    plans = [plan, *Plan.live.select_for_update().filter(parent=plan)]
    for item in plans:
        item.pending_deletion = True
        item.deleted_at = now
        item.save(update_fields=["pending_deletion", "deleted_at", "updated_at"])
    for item in plans:
        transaction.on_commit(
            lambda item=item: signals.plan_deleted.send(sender=Plan, plan=item, organization=organization)
        )
    return plan


# --- per-plan charge routes (/plans/{code}/charges[/{charge_code}]) ---------------------------


def _charge_get(plan: Plan, charge_code: str) -> Charge:
    return plan_item_for_update(Charge, plan, charge_code, resource="charge", related="billable_metric")


@transaction.atomic
def plan_charge_create(organization: Organization, *, plan_code: str, data: ChargeFields) -> Charge:
    return _charge_write(organization, plan_code, None, data)


@transaction.atomic
def plan_charge_update(organization: Organization, *, plan_code: str, charge_code: str, data: ChargeFields) -> Charge:
    return _charge_write(organization, plan_code, charge_code, data)


def _charge_write(organization: Organization, plan_code: str, code: str | None, data: ChargeFields) -> Charge:
    def apply(
        plan: Plan, charge: Charge | None, locked: bool
    ) -> tuple[tuple[Charge, _ChargeExtras], dict[str, list[str]]]:
        charge, extras, errors = _charge_apply(organization, plan, charge, data, locked=locked, taken_codes=set())
        return (charge, extras), errors

    return write_plan_item(
        organization, plan_code, code, get=_charge_get, apply=apply, save=lambda built: _charge_save(*built)
    )


@transaction.atomic
def plan_charge_delete(organization: Organization, *, plan_code: str, charge_code: str) -> Charge:
    plan = plan_for_update(organization, plan_code)
    charge = _charge_get(plan, charge_code)
    _charge_discard(charge, timezone.now())
    return charge


# --- overrides (subscriptions' plan_overrides) ------------------------------------------------


def _override_plan_fields(organization: Organization, plan: Plan, data: PlanOverrides) -> None:
    allowed = PlanFields(
        name=data.name, invoice_display_name=data.invoice_display_name, description=data.description,
        amount_cents=data.amount_cents, amount_currency=data.amount_currency, trial_period=data.trial_period,
        metadata=data.metadata,
    )  # fmt: skip
    _plan_apply(plan, allowed, locked=True)
    if (trial_period := or_none(data.trial_period)) is not None and (trial := _trial(trial_period)) is not None:
        plan.trial_period = trial
    if errors := _plan_errors(organization, plan, allowed, creating=False):
        raise ValidationFailure(errors)
    plan.save()


def _override_charge(
    organization: Organization, plan: Plan, charge: Charge, item: ChargeOverrideFields, *, prefix: str = "charges."
) -> dict[str, list[str]]:
    """Apply one `plan_overrides.charges[]` item to the override plan's copy of a charge and save it;
    the errors are keyed `<prefix><field>`."""
    override = ChargeFields(
        invoice_display_name=item.invoice_display_name, min_amount_cents=item.min_amount_cents,
        properties=item.properties, filters=item.filters, tax_codes=item.tax_codes,
    )  # fmt: skip
    errors: dict[str, list[str]] = {}
    if (min_amount_cents := or_none(item.min_amount_cents)) is not None:
        # `_charge_apply` keeps a locked charge's spending minimum; an override is what changes it.
        if codes := amount_cents_codes(min_amount_cents, required=False):
            errors["min_amount_cents"] = codes
        else:
            charge.min_amount_cents = min_amount_cents
    charge, extras, charge_errors = _charge_apply(organization, plan, charge, override, locked=True, taken_codes=set())
    errors = merge_details(errors, charge_errors)
    if not errors:
        _charge_save(charge, extras)
    return {f"{prefix}{key}": codes for key, codes in errors.items()}


# What an override plan and its charges copy from the parent's.
_PLAN_COPIED = (
    "name", "code", "interval", "description", "invoice_display_name", "amount_cents", "amount_currency",
    "pay_in_advance", "trial_period", "bill_charges_monthly", "bill_fixed_charges_monthly",
)  # fmt: skip
_CHARGE_COPIED = (
    "billable_metric", "code", "charge_model", "pay_in_advance", "invoiceable", "prorated", "regroup_paid_fees",
    "min_amount_cents", "properties", "pricing_group_keys", "invoice_display_name", "accepts_target_wallet",
)  # fmt: skip


@transaction.atomic
def plan_override_create(organization: Organization, *, parent: Plan, data: PlanOverrides) -> Plan:
    """A copy of `parent` with Lago's `plan_overrides` applied, for one subscription.

    Overridable: name, invoice_display_name, description, amount_cents, amount_currency,
    trial_period, tax_codes, minimum_commitment, usage_thresholds, metadata, and per charge (by
    `id` of the parent's charge) invoice_display_name, min_amount_cents, properties, filters,
    tax_codes. The copy has the parent's code and `parent` set; the charges keep `parent` links.
    """
    if parent.organization_id != organization.pk or parent.deleted_at is not None:
        raise NotFoundFailure("plan")
    plan = Plan(
        organization=organization, parent=parent, metadata=dict(parent.metadata or {}), **copied(parent, _PLAN_COPIED)
    )
    _override_plan_fields(organization, plan, data)
    tax_codes = or_none(data.tax_codes)
    set_links(
        plan,
        PlanTax,
        "plan",
        taxes_for_codes(organization, tax_codes) if tax_codes is not None else list(parent.taxes.all()),
    )
    commitment = parent.commitments.first()
    if sent(data.minimum_commitment):
        _sync_commitment(organization, plan, or_none(data.minimum_commitment))
    elif commitment is not None:
        _sync_commitment(
            organization,
            plan,
            CommitmentFields(amount_cents=commitment.amount_cents, invoice_display_name=commitment.invoice_display_name,
                             tax_codes=[t.code for t in commitment.taxes.all()]),
        )  # fmt: skip
    if sent(data.usage_thresholds):
        _sync_thresholds(organization, plan, or_none(data.usage_thresholds))
    else:
        _sync_thresholds(
            organization,
            plan,
            [UsageThresholdFields(amount_cents=t.amount_cents, recurring=t.recurring,
                                  threshold_display_name=t.threshold_display_name)
             for t in UsageThreshold.live.filter(plan=parent)],
        )  # fmt: skip
    fixed_charges_copy(organization, parent=parent, plan=plan, overrides=list(or_none(data.fixed_charges) or ()))
    overrides = {str(item.id): item for item in or_none(data.charges) or ()}
    errors: dict[str, list[str]] = {}
    for source in Charge.live.filter(plan=parent).select_related("billable_metric"):
        charge = Charge(organization=organization, plan=plan, parent=source, **copied(source, _CHARGE_COPIED))
        item = overrides.get(str(source.pk)) or ChargeOverride(id=str(source.pk))
        if not sent(item.filters):
            item = replace(
                item,
                filters=[
                    ChargeFilterFields(
                        values=f.values, properties=f.properties, invoice_display_name=f.invoice_display_name
                    )
                    for f in ChargeFilter.live.filter(charge=source)
                ],
            )
        if not sent(item.tax_codes):
            item = replace(item, tax_codes=[t.code for t in source.taxes.all()])
        charge.save()
        errors = merge_details(errors, _override_charge(organization, plan, charge, item))
    if errors:
        raise ValidationFailure(errors)
    return plan


@transaction.atomic
def plan_override_update(organization: Organization, *, plan: Plan, data: PlanOverrides) -> Plan:
    """A subscription's later `plan_overrides`: the same fields as `plan_override_create`, applied to
    its existing override plan (fields absent from `data` keep their values). Charges are named by
    the parent charge's `id` (or the override charge's own)."""
    if plan.organization_id != organization.pk or plan.parent_id is None:
        raise NotFoundFailure("plan")
    _override_plan_fields(organization, plan, data)
    _plan_extras(organization, plan, data)
    charges = list(Charge.live.select_for_update().filter(plan=plan).select_related("billable_metric"))
    errors: dict[str, list[str]] = {}
    for item in or_none(data.charges) or ():
        charge = found(next((c for c in charges if item.id in (str(c.parent_id), str(c.pk))), None), "charge")
        errors = merge_details(errors, _override_charge(organization, plan, charge, item))
    if errors:
        raise ValidationFailure(errors)
    fixed_charges_override(organization, plan, list(or_none(data.fixed_charges) or ()))
    return plan


# --- charge filters (/plans/{code}/charges/{charge_code}/filters[/{id}]) -----------------------


def _charge_filter_get(charge: Charge, filter_id: UUID | str) -> ChargeFilter:
    pk = as_uuid(filter_id)
    return found(
        ChargeFilter.live.select_for_update().filter(charge=charge, pk=pk).first() if pk else None, "charge_filter"
    )


def _merged_filter(charge_filter: ChargeFilter, data: ChargeFilterFields) -> ChargeFilterFields:
    """The filter's fields sent over its current ones (values and properties sent as null stay)."""
    return ChargeFilterFields(
        values=values if (values := or_none(data.values)) is not None else charge_filter.values,
        properties=properties if (properties := or_none(data.properties)) is not None else charge_filter.properties,
        invoice_display_name=(
            data.invoice_display_name if sent(data.invoice_display_name) else charge_filter.invoice_display_name
        ),
    )


def _filter_write(charge_filter: ChargeFilter, item: _FilterRow) -> ChargeFilter:
    charge_filter.values = item.values
    charge_filter.properties = item.properties
    charge_filter.invoice_display_name = item.invoice_display_name
    charge_filter.save()
    return charge_filter


def _one_filter(charge: Charge, data: ChargeFilterFields) -> _FilterRow:
    items, errors = _filters_input(charge.billable_metric, charge.charge_model, [data])
    if errors:
        raise ValidationFailure(errors)
    return items[0]


@transaction.atomic
def charge_filter_create(
    organization: Organization, *, plan_code: str, charge_code: str, data: ChargeFilterFields
) -> ChargeFilter:
    charge = _charge_get(plan_for_update(organization, plan_code), charge_code)
    item = _one_filter(charge, data)
    for existing in ChargeFilter.live.filter(charge=charge):
        if filter_values_key(existing.values) == filter_values_key(item.values):
            raise ValidationFailure.single("values", "value_already_exist")
    return _filter_create(charge, item)


@transaction.atomic
def charge_filter_update(
    organization: Organization,
    *,
    plan_code: str,
    charge_code: str,
    filter_id: UUID | str,
    data: ChargeFilterFields,
) -> ChargeFilter:
    """A filter's values, properties and display name; those not sent (or sent null: values and
    properties) stay."""
    charge = _charge_get(plan_for_update(organization, plan_code), charge_code)
    charge_filter = _charge_filter_get(charge, filter_id)
    item = _one_filter(charge, _merged_filter(charge_filter, data))
    return _filter_write(charge_filter, item)


@transaction.atomic
def charge_filter_delete(
    organization: Organization, *, plan_code: str, charge_code: str, filter_id: UUID | str
) -> ChargeFilter:
    charge = _charge_get(plan_for_update(organization, plan_code), charge_code)
    charge_filter = _charge_filter_get(charge, filter_id)
    soft_delete(charge_filter)
    return charge_filter


# --- one charge of an override plan (/subscriptions/{external_id}/charges[/{code}[/filters]]) ----


def _override_charge_of(organization: Organization, charge: Charge) -> Charge:
    """`charge`, locked, when it belongs to `organization` and to an override plan (a subscription's
    copy): these services never change a plan that other subscriptions share."""
    return found(
        Charge.live.select_for_update(of=("self",))
        .select_related("plan", "billable_metric")
        .filter(pk=charge.pk, organization=organization, plan__parent__isnull=False)
        .first(),
        "charge",
    )


@transaction.atomic
def override_charge_update(organization: Organization, *, charge: Charge, data: ChargeOverrideFields) -> Charge:
    """Change an override plan's charge: the fields sent of invoice_display_name, min_amount_cents,
    properties, filters (replacing the charge's; same values keep their row) and tax_codes, checked
    with the plan charges' rules."""
    charge = _override_charge_of(organization, charge)
    if errors := _override_charge(organization, charge.plan, charge, data, prefix=""):
        raise ValidationFailure(errors)
    return charge


@transaction.atomic
def override_charge_filter_create(
    organization: Organization, *, charge: Charge, data: ChargeFilterFields
) -> ChargeFilter:
    """A new filter on an override plan's charge; the same values twice is `value_already_exists`."""
    charge = _override_charge_of(organization, charge)
    if not data.values:
        raise ValidationFailure.single("values", "value_is_mandatory")
    item = _one_filter(charge, data)
    if charge_filter_with_values(charge, item.values) is not None:
        raise ValidationFailure.single("values", "value_already_exists")
    return _filter_create(charge, item)


@transaction.atomic
def override_charge_filter_update(
    organization: Organization, *, charge_filter: ChargeFilter, data: ChargeFilterFields
) -> ChargeFilter:
    """Change a filter of an override plan's charge: the fields sent (values, properties,
    invoice_display_name); other values already on the charge are `value_already_exists`."""
    charge = _override_charge_of(organization, charge_filter.charge)
    charge_filter = _charge_filter_get(charge, charge_filter.pk)
    item = _one_filter(charge, _merged_filter(charge_filter, data))
    same = charge_filter_with_values(charge, item.values)
    if same is not None and same.pk != charge_filter.pk:
        raise ValidationFailure.single("values", "value_already_exists")
    return _filter_write(charge_filter, item)


@transaction.atomic
def override_charge_filter_delete(organization: Organization, *, charge_filter: ChargeFilter) -> ChargeFilter:
    """Remove (soft delete) a filter of an override plan's charge."""
    charge = _override_charge_of(organization, charge_filter.charge)
    charge_filter = _charge_filter_get(charge, charge_filter.pk)
    soft_delete(charge_filter)
    return charge_filter


# --- plan metadata (/plans/{code}/metadata[/{key}]) ---------------------------------------------


@transaction.atomic
def plan_metadata_set(
    organization: Organization, *, code: str, metadata: Mapping[str, str | None], merge: bool
) -> dict[str, str | None]:
    """Replace (POST) or merge (PATCH) the plan's metadata."""
    plan = plan_for_update(organization, code)
    incoming = dict(metadata)
    plan.metadata = {**(plan.metadata or {}), **incoming} if merge else incoming
    plan.save(update_fields=["metadata", "updated_at"])
    return plan.metadata


@transaction.atomic
def plan_metadata_delete(organization: Organization, *, code: str, key: str | None = None) -> dict[str, str | None]:
    """Delete one key, or all of the plan's metadata when `key` is None."""
    plan = plan_for_update(organization, code)
    plan.metadata = {} if key is None else {k: v for k, v in (plan.metadata or {}).items() if k != key}
    plan.save(update_fields=["metadata", "updated_at"])
    return plan.metadata
