"""The catalog as one billing batch sees it: read once, frozen, passed explicitly.

    catalog_snapshot(plans, organizations) -> CatalogSnapshot     (a handful of queries per batch)
    plan_snapshot(plan) -> PlanSnapshot                           (one plan, for callers outside a batch)
    charge_snapshot(charge) -> ChargeSnapshot                     (one charge, idem)

Everything pricing needs beside the usage: each plan's live charges (with their live filters, the
metric's filter keys and the charge's own taxes), its live fixed charges (with add-on and taxes), the
plan's minimum commitment and taxes, and the organizations' default taxes. A batch prices all its customers with the catalog as it was when the
batch read it; nothing is kept between batches or in the process, and nothing is stored on the
model instances (the snapshot holds them, it never changes them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from catalog import pricing
from catalog.models import (
    BillableMetric,
    BillableMetricFilter,
    Charge,
    ChargeFilter,
    ChargeTax,
    Commitment,
    FixedCharge,
    FixedChargeTax,
    Plan,
    PlanTax,
    Tax,
)
from metering.aggregation import MetricSpec

MINIMUM_COMMITMENT = "minimum_commitment"
EMPTY: Mapping[Any, Any] = MappingProxyType({})


def metric_spec(metric: BillableMetric, filter_keys: Iterable[str]) -> MetricSpec:
    """The aggregation's view of a metric; `filter_keys`: its live filters' keys."""
    return MetricSpec.of(metric, filter_keys)


def live_filters(filters: Iterable[ChargeFilter]) -> tuple[ChargeFilter, ...]:
    """A charge's filters that are not deleted, in the order they are priced and shown."""
    return tuple(sorted((f for f in filters if f.deleted_at is None), key=lambda f: (f.created_at, str(f.id))))


def live_charge_filters(charge: Charge) -> list[ChargeFilter]:
    """`charge`'s live filters (its prefetched filters when the caller prefetched them, else one query)."""
    return list(live_filters(charge.filters.all()))


@dataclass(frozen=True)
class ChargeSnapshot:
    """A live charge with what pricing reads beside it: its live filters, its metric's view, its taxes
    (sorted by code; None when not read: the tax resolver reads them)."""

    charge: Charge
    filters: tuple[ChargeFilter, ...]
    metric: MetricSpec
    taxes: tuple[Tax, ...] | None = None
    # the charge's properties and its live filters' passed `pricing.validate_properties` when the
    # snapshot was read (`charge_properties_checked`): every fee of the batch is priced without
    # checking them again
    checked: bool = False

    @property
    def id(self) -> Any:
        return self.charge.id


@dataclass(frozen=True)
class FixedChargeSnapshot:
    """A live fixed charge with its add-on and its own taxes (sorted by code)."""

    fixed_charge: FixedCharge
    taxes: tuple[Tax, ...] = ()
    checked: bool = False  # its properties passed `pricing.validate_properties` when the snapshot was read

    @property
    def id(self) -> Any:
        return self.fixed_charge.id


@dataclass(frozen=True)
class PlanSnapshot:
    plan: Plan
    charges: tuple[ChargeSnapshot, ...]
    commitment: Commitment | None = None
    taxes: tuple[Tax, ...] | None = None
    fixed_charges: tuple[FixedChargeSnapshot, ...] = ()

    @property
    def has_advance_fixed_charges(self) -> bool:
        return any(f.fixed_charge.pay_in_advance for f in self.fixed_charges)

    @property
    def has_recurring_metric(self) -> bool:
        return any(c.metric.recurring for c in self.charges)

    def owner_taxes(self) -> dict[tuple[str, Any], list[Tax]]:
        """The taxes read with the plan, by owner, as `TaxResolver(owner_taxes=...)` takes them."""
        owners: dict[tuple[str, Any], list[Tax]] = {}
        if self.taxes is not None:
            owners[("Plan", self.plan.id)] = list(self.taxes)
        for charge in self.charges:
            if charge.taxes is not None:
                owners[("Charge", charge.id)] = list(charge.taxes)
        for fixed in self.fixed_charges:
            owners[("FixedCharge", fixed.id)] = list(fixed.taxes)
        return owners


@dataclass(frozen=True)
class CatalogSnapshot:
    """The plans of a batch by id, and each organization's default taxes (sorted by code)."""

    plans: Mapping[Any, PlanSnapshot] = field(default_factory=lambda: EMPTY)
    organization_taxes: Mapping[Any, tuple[Tax, ...]] = field(default_factory=lambda: EMPTY)
    owner_taxes: Mapping[tuple[str, Any], list[Tax]] = field(default_factory=lambda: EMPTY)

    def plan(self, plan_id: Any) -> PlanSnapshot:
        return self.plans[plan_id]


def charge_properties_checked(charge: Charge, filters: Iterable[ChargeFilter]) -> bool:
    """Whether the properties a charge's fees are priced with (its own, each live filter's) are valid
    for its model: checked once per batch instead of once per fee."""
    model = charge.charge_model
    return not pricing.validate_properties(model, charge.properties or {}) and not any(
        pricing.validate_properties(model, f.properties or {}) for f in filters
    )


def catalog_snapshot(plans: Iterable[Plan], organization_ids: Iterable[Any]) -> CatalogSnapshot:
    """Read the catalog of these plans and the default taxes of these organizations: nine queries at
    most whatever the number of plans (none for an empty batch)."""
    by_id = {plan.id: plan for plan in plans}
    organization_ids = set(organization_ids)
    if not by_id:
        return CatalogSnapshot()
    charges = list(
        Charge.objects.filter(plan_id__in=list(by_id), deleted_at__isnull=True)
        .select_related("billable_metric")
        .order_by("created_at", "id")
    )
    charge_ids = [c.id for c in charges]
    filters: dict[Any, list[ChargeFilter]] = defaultdict(list)
    charge_taxes: dict[Any, list[Tax]] = defaultdict(list)
    keys: dict[Any, list[str]] = defaultdict(list)
    if charges:
        for charge_filter in ChargeFilter.objects.filter(charge_id__in=charge_ids, deleted_at__isnull=True):
            filters[charge_filter.charge_id].append(charge_filter)
        for link in ChargeTax.objects.filter(charge_id__in=charge_ids).select_related("tax"):
            charge_taxes[link.charge_id].append(link.tax)
        metric_ids = {c.billable_metric_id for c in charges}
        for metric_id, key in BillableMetricFilter.objects.filter(
            billable_metric_id__in=list(metric_ids), deleted_at__isnull=True
        ).values_list("billable_metric_id", "key"):
            keys[metric_id].append(key)
    commitments: dict[Any, Commitment] = {}
    for commitment in Commitment.objects.filter(plan_id__in=list(by_id), commitment_type=MINIMUM_COMMITMENT):
        commitments.setdefault(commitment.plan_id, commitment)  # the model's order: the first one
    plan_taxes: dict[Any, list[Tax]] = defaultdict(list)
    for plan_link in PlanTax.objects.filter(plan_id__in=list(by_id)).select_related("tax"):
        plan_taxes[plan_link.plan_id].append(plan_link.tax)
    org_taxes: dict[Any, list[Tax]] = defaultdict(list)
    if organization_ids:
        for tax in Tax.objects.filter(
            organization_id__in=list(organization_ids), applied_to_organization=True
        ).order_by("code"):
            org_taxes[tax.organization_id].append(tax)
    fixed_of_plan = _fixed_charges(list(by_id))
    of_plan: dict[Any, list[ChargeSnapshot]] = defaultdict(list)
    specs: dict[Any, MetricSpec] = {}
    for charge in charges:
        spec = specs.get(charge.billable_metric_id)
        if spec is None:
            spec = specs[charge.billable_metric_id] = metric_spec(
                charge.billable_metric, keys[charge.billable_metric_id]
            )
        live = live_filters(filters[charge.id])
        of_plan[charge.plan_id].append(
            ChargeSnapshot(
                charge=charge,
                filters=live,
                metric=spec,
                taxes=tuple(sorted(charge_taxes[charge.id], key=lambda t: t.code)),
                checked=charge_properties_checked(charge, live),
            )
        )
    snapshots = {
        plan_id: PlanSnapshot(
            plan=plan,
            charges=tuple(of_plan[plan_id]),
            commitment=commitments.get(plan_id),
            taxes=tuple(sorted(plan_taxes[plan_id], key=lambda t: t.code)),
            fixed_charges=tuple(fixed_of_plan[plan_id]),
        )
        for plan_id, plan in by_id.items()
    }
    owners: dict[tuple[str, Any], list[Tax]] = {}
    for snapshot in snapshots.values():
        owners.update(snapshot.owner_taxes())
    return CatalogSnapshot(
        plans=MappingProxyType(snapshots),
        organization_taxes=MappingProxyType({org_id: tuple(org_taxes[org_id]) for org_id in organization_ids}),
        owner_taxes=MappingProxyType(owners),
    )


def _fixed_charges(plan_ids: list[Any]) -> dict[Any, list[FixedChargeSnapshot]]:
    """The plans' live fixed charges (with add-on) and their taxes: two queries, one when none."""
    fixed = list(
        FixedCharge.objects.filter(plan_id__in=plan_ids, deleted_at__isnull=True)
        .select_related("add_on")
        .order_by("created_at", "id")
    )
    taxes: dict[Any, list[Tax]] = defaultdict(list)
    if fixed:
        for link in FixedChargeTax.objects.filter(fixed_charge_id__in=[f.id for f in fixed]).select_related("tax"):
            taxes[link.fixed_charge_id].append(link.tax)
    result: dict[Any, list[FixedChargeSnapshot]] = defaultdict(list)
    for item in fixed:
        result[item.plan_id].append(
            FixedChargeSnapshot(
                fixed_charge=item,
                taxes=tuple(sorted(taxes[item.id], key=lambda t: t.code)),
                checked=not pricing.validate_properties(item.charge_model, item.properties),
            )
        )
    return result


def charge_snapshot(charge: Charge) -> ChargeSnapshot:
    """One charge read on its own (its prefetched filters when there are, its metric's filter keys:
    one query). Its taxes are left to the tax resolver."""
    metric = charge.billable_metric
    keys = metric.filters.filter(deleted_at__isnull=True).values_list("key", flat=True)
    return ChargeSnapshot(charge=charge, filters=live_filters(charge.filters.all()), metric=metric_spec(metric, keys))


def plan_snapshot(plan: Plan) -> PlanSnapshot:
    """One plan read on its own (a caller outside a billing batch): `catalog_snapshot` of it."""
    return catalog_snapshot([plan], []).plan(plan.id)
