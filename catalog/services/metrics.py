"""Billable metrics: create, update, delete, evaluate an expression (docs/catalog.md)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing_project.core.bulk import update_rows
from billing_project.core.errors import ValidationFailure, merge_details
from billing_project.core.inputs import UNSET, or_none
from catalog import expressions, signals
from catalog.inputs import BillableMetricFields, MetricFilterFields, SampleEvent
from catalog.models import (
    ALL_FILTER_VALUES,
    AggregationType,
    BillableMetric,
    BillableMetricFilter,
    Charge,
    ChargeFilter,
    RoundingFunction,
    WeightedInterval,
)
from catalog.services.common import locked_by_code, name_and_code_errors, save_with_code, soft_delete
from customers.models import Organization

NO_RECURRING = {AggregationType.COUNT, AggregationType.MAX, AggregationType.LATEST}
NO_FIELD_NAME = {AggregationType.COUNT, AggregationType.CUSTOM}
# Only these may change once charges use the metric (Lago's BillableMetrics::UpdateService).
ALWAYS_EDITABLE = ("name", "description")


def _filters_errors(filters: Sequence[MetricFilterFields] | None) -> dict[str, list[str]]:
    """A filter names a key and at least one value, no value empty; a key once."""
    keys: list[str] = []
    for item in filters or ():
        if not item.key or not item.key.strip() or not item.values or not all(item.values):
            return {"filters": ["value_is_invalid"]}
        keys.append(item.key)
    if len(keys) != len(set(keys)):
        return {"filters": ["value_is_duplicated"]}
    return {}


def _metric_errors(
    organization: Organization, metric: BillableMetric, data: BillableMetricFields
) -> dict[str, list[str]]:
    errors = name_and_code_errors(metric, BillableMetric.live.filter(organization=organization))
    if not metric.aggregation_type:
        errors["aggregation_type"] = ["value_is_mandatory"]
    elif metric.aggregation_type not in AggregationType.values or metric.aggregation_type == AggregationType.CUSTOM:
        errors["aggregation_type"] = ["value_is_invalid"]
    else:
        if metric.aggregation_type not in NO_FIELD_NAME and not (metric.field_name or "").strip():
            errors["field_name"] = ["value_is_mandatory"]
        if metric.recurring and metric.aggregation_type in NO_RECURRING:
            errors["recurring"] = ["not_compatible_with_aggregation_type"]
        if metric.aggregation_type == AggregationType.WEIGHTED_SUM:
            if metric.weighted_interval not in WeightedInterval.values:
                errors["weighted_interval"] = ["value_is_invalid"]
        else:
            metric.weighted_interval = None
    if metric.rounding_function is not None and metric.rounding_function not in RoundingFunction.values:
        errors["rounding_function"] = ["value_is_invalid"]
    if metric.expression and (codes := expressions.validate(metric.expression)):
        errors["expression"] = list(codes)
    return merge_details(errors, _filters_errors(or_none(data.filters)))


def _apply_fields(metric: BillableMetric, data: BillableMetricFields, fields: tuple[str, ...]) -> None:
    for field in fields:
        value = getattr(data, field)
        if value is UNSET:
            continue
        if field in ("description",):
            value = value or ""
        if field in ("expression", "field_name", "rounding_function", "weighted_interval") and value == "":
            value = None
        if field == "recurring":
            value = bool(value)
        setattr(metric, field, value)


EDITABLE_WHEN_UNUSED = (
    "code",
    "aggregation_type",
    "field_name",
    "recurring",
    "weighted_interval",
    "rounding_function",
    "rounding_precision",
    "expression",
)


def _sync_filters(metric: BillableMetric, filters: Sequence[MetricFilterFields]) -> None:
    """Replace the metric's filters; charge filters that used removed keys or values follow.

    As Lago does (BillableMetricFilters::CreateOrUpdateBatchService): a removed key discards the
    charge filters that used it; a removed value is taken out of charge filters, and a charge filter
    left without any value for a key is discarded.
    """
    now = timezone.now()
    wanted = {str(item.key): list(dict.fromkeys(item.values or ())) for item in filters}
    current = {f.key: f for f in BillableMetricFilter.live.filter(billable_metric=metric)}
    for key, metric_filter in current.items():
        if key not in wanted:
            metric_filter.deleted_at = now
            metric_filter.save(update_fields=["deleted_at", "updated_at"])
        elif metric_filter.values != wanted[key]:
            metric_filter.values = wanted[key]
            metric_filter.save(update_fields=["values", "updated_at"])
    for key, values in wanted.items():
        if key not in current:
            BillableMetricFilter.objects.create(billable_metric=metric, key=key, values=values)

    charge_filters = ChargeFilter.live.filter(charge__billable_metric=metric, charge__deleted_at__isnull=True)
    for charge_filter in charge_filters.select_for_update():
        new_values: dict[str, list[str]] = {}
        discard = False
        for key, values in (charge_filter.values or {}).items():
            if key not in wanted:
                discard = True
                break
            kept = [v for v in values if v == ALL_FILTER_VALUES or v in wanted[key]]
            if not kept:
                discard = True
                break
            new_values[key] = kept
        if discard:
            charge_filter.deleted_at = now
            charge_filter.save(update_fields=["deleted_at", "updated_at"])
        elif new_values != charge_filter.values:
            charge_filter.values = new_values
            charge_filter.save(update_fields=["values", "updated_at"])


@transaction.atomic
def billable_metric_create(organization: Organization, *, data: BillableMetricFields) -> BillableMetric:
    metric = BillableMetric(organization=organization, name=or_none(data.name) or "", code=or_none(data.code) or "")
    _apply_fields(metric, data, ("description", *EDITABLE_WHEN_UNUSED))
    errors = _metric_errors(organization, metric, data)
    if errors:
        raise ValidationFailure(errors)
    save_with_code(metric)
    if filters := or_none(data.filters):
        _sync_filters(metric, filters)
    return metric


def metric_in_use(metric: BillableMetric) -> bool:
    return Charge.live.filter(billable_metric=metric, plan__deleted_at__isnull=True).exists()


@transaction.atomic
def billable_metric_update(organization: Organization, *, code: str, data: BillableMetricFields) -> BillableMetric:
    """Partial update. Once charges use the metric only name, description and filters change."""
    metric = locked_by_code(BillableMetric.live, organization, code, "billable_metric")
    _apply_fields(metric, data, ALWAYS_EDITABLE)
    if not metric_in_use(metric):
        _apply_fields(metric, data, EDITABLE_WHEN_UNUSED)
    errors = _metric_errors(organization, metric, data)
    if errors:
        raise ValidationFailure(errors)
    save_with_code(metric)
    if (filters := or_none(data.filters)) is not None:
        _sync_filters(metric, filters)
    return metric


@transaction.atomic
def billable_metric_delete(organization: Organization, *, code: str) -> BillableMetric:
    """Soft-delete the metric with its filters, and the charges (and charge filters) that use it.

    This is what Lago does (BillableMetrics::DestroyService): deleting is never refused; the plans
    simply lose the charges on this metric. `signals.billable_metric_deleted` (on commit) lets
    invoicing refresh draft invoices and metering discard the metric's events, as Lago does.
    """
    metric = locked_by_code(BillableMetric.live, organization, code, "billable_metric")
    now = timezone.now()
    charges = Charge.live.filter(billable_metric=metric)
    update_rows(ChargeFilter.live.filter(charge__in=charges), deleted_at=now, updated_at=now)
    update_rows(charges, deleted_at=now, updated_at=now)
    BillableMetricFilter.live.filter(billable_metric=metric).update(deleted_at=now, updated_at=now)
    soft_delete(metric, now)
    transaction.on_commit(
        lambda: signals.billable_metric_deleted.send(
            sender=BillableMetric, billable_metric=metric, organization=organization
        )
    )
    return metric


def billable_metric_evaluate_expression(
    organization: Organization, *, expression: str | None, event: SampleEvent | None
) -> Decimal | str:
    """The value an expression gives for a sample event (`POST /billable_metrics/evaluate_expression`)."""
    errors: dict[str, list[str]] = {}
    if not expression or not expression.strip():
        errors["expression"] = ["value_is_mandatory"]
    if event is None:
        errors["event"] = ["value_is_mandatory"]
    if errors or not expression or event is None:
        raise ValidationFailure(errors)
    if expressions.validate(expression):
        raise ValidationFailure.single("expression", "invalid_expression")
    sample = {"code": event.code, "timestamp": event.timestamp, "properties": dict(event.properties or {})}
    try:
        return expressions.evaluate_value(expression, sample)
    except expressions.ExpressionError as exc:
        raise ValidationFailure.single("expression", "invalid_expression") from exc
