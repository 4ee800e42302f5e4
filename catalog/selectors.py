"""Reads of the catalog. Every selector takes the organization first."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce

from billing_project.core.found import found
from billing_project.core.narrowing import narrowed
from catalog.models import (
    AddOn,
    AppliedCoupon,
    BillableMetric,
    BillableMetricFilter,
    Charge,
    ChargeFilter,
    Commitment,
    Coupon,
    CouponStatus,
    CustomerTax,
    FixedCharge,
    Plan,
    Tax,
    UsageThreshold,
)
from catalog.services.common import as_uuid, filter_values_key
from customers.models import BillingEntity, Customer, Organization

T = TypeVar("T")

# --- metrics ----------------------------------------------------------------------------------


def billable_metric_list(organization: Organization) -> QuerySet[BillableMetric]:
    return BillableMetric.live.filter(organization=organization).prefetch_related(
        Prefetch("filters", queryset=BillableMetricFilter.live.all(), to_attr="live_filters")
    )


def billable_metric_get(organization: Organization, code: str) -> BillableMetric:
    return found(billable_metric_list(organization).filter(code=code).first(), "billable_metric")


def _prefetched(row: Any, to_attr: str, read: Callable[[], Iterable[T]]) -> list[T]:
    """The list a `Prefetch(..., to_attr=to_attr)` left on `row` (a list read prefetched it), else `read()`."""
    rows = getattr(row, to_attr, None)
    return rows if rows is not None else list(read())


def billable_metric_filters(metric: BillableMetric) -> list[BillableMetricFilter]:
    return _prefetched(metric, "live_filters", lambda: BillableMetricFilter.live.filter(billable_metric=metric))


# --- plans and charges ------------------------------------------------------------------------


def _charges_prefetch() -> Prefetch:
    charges = (
        Charge.live.select_related("billable_metric")
        .prefetch_related(
            Prefetch("filters", queryset=ChargeFilter.live.select_related("charge"), to_attr="live_filters"),
            "taxes",
        )
        .order_by("created_at", "id")
    )
    return Prefetch("charges", queryset=charges, to_attr="live_charges")


def plan_list(organization: Organization) -> QuerySet[Plan]:
    """Plans as the API lists them: live, and not per-subscription overrides."""
    return (
        Plan.live.filter(organization=organization, parent__isnull=True)
        .prefetch_related(
            _charges_prefetch(),
            "taxes",
            Prefetch("usage_thresholds", queryset=UsageThreshold.live.all(), to_attr="live_thresholds"),
            Prefetch("commitments", queryset=Commitment.objects.prefetch_related("taxes")),
            Prefetch("fixed_charges", queryset=_fixed_charges(), to_attr="live_fixed_charges"),
        )
        .order_by("-created_at", "id")
    )


def plan_get(organization: Organization, code: str) -> Plan:
    return found(plan_list(organization).filter(code=code).first(), "plan")


def plan_get_by_id(organization: Organization, plan_id: Any) -> Plan:
    """Any plan of the organization by id, overrides included (subscriptions keep plan ids)."""
    pk = as_uuid(plan_id)
    return found(Plan.objects.filter(organization=organization, pk=pk).first() if pk else None, "plan")


def plan_charges(plan: Plan) -> list[Charge]:
    return _prefetched(plan, "live_charges", lambda: charge_list(plan).order_by("created_at", "id"))


def charge_list(plan: Plan) -> QuerySet[Charge]:
    """A plan's live charges with what their API object shows, newest first (Lago's order for a
    subscription's charges)."""
    return (
        Charge.live.filter(plan=plan)
        .select_related("billable_metric")
        .prefetch_related(Prefetch("filters", queryset=ChargeFilter.live.all(), to_attr="live_filters"), "taxes")
        .order_by("-created_at", "-id")
    )


def charge_get(plan: Plan, charge_code: str) -> Charge:
    """A live charge of `plan` by code, ready for its API object; 404 `charge_not_found`."""
    return found(charge_list(plan).filter(code=charge_code).first(), "charge")


def charge_reload(charge: Charge) -> Charge:
    """`charge` read again with what its API object shows (after a change)."""
    return charge_list(charge.plan).get(pk=charge.pk)


def plan_charge_get(organization: Organization, plan_code: str, charge_code: str) -> Charge:
    charges = plan_charges(plan_get(organization, plan_code))
    return found(next((charge for charge in charges if charge.code == charge_code), None), "charge")


def charge_filters(charge: Charge) -> list[ChargeFilter]:
    return _prefetched(charge, "live_filters", lambda: ChargeFilter.live.filter(charge=charge))


def _fixed_charges() -> QuerySet[FixedCharge]:
    return FixedCharge.live.select_related("add_on").prefetch_related("taxes").order_by("created_at", "id")


def plan_fixed_charges(plan: Plan) -> list[FixedCharge]:
    """A plan's live fixed charges, oldest first (the prefetched list when `plan_list` read the plan)."""
    return _prefetched(plan, "live_fixed_charges", lambda: _fixed_charges().filter(plan=plan))


def plan_fixed_charge_get(organization: Organization, plan_code: str, code: str) -> FixedCharge:
    fixed_charges = plan_fixed_charges(plan_get(organization, plan_code))
    return found(next((item for item in fixed_charges if item.code == code), None), "fixed_charge")


def plan_usage_thresholds(plan: Plan) -> list[UsageThreshold]:
    return _prefetched(plan, "live_thresholds", lambda: UsageThreshold.live.filter(plan=plan))


def plan_minimum_commitment(plan: Plan) -> Commitment | None:
    commitments = list(plan.commitments.all())
    return commitments[0] if commitments else None


# --- taxes ------------------------------------------------------------------------------------


# The tax object's `*_count` fields (catalog.api.serializers.TaxOutput), counted in the tax's own
# statement: `<prefix><relation>` columns, one per link relation.
TAX_LINK_COUNT_PREFIX = "link_count_"
TAX_LINK_RELATIONS = ("add_on_links", "customer_links", "plan_links", "charge_links", "commitment_links")


def _link_count(relation: str) -> Coalesce:
    link = Tax._meta.get_field(relation)
    column = link.field.attname  # type: ignore[union-attr]
    rows = link.related_model._default_manager.filter(**{column: OuterRef("pk")})  # type: ignore[union-attr]
    counted = rows.order_by().values(column).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


# What `tax_billing_entity_codes` needs, read in the tax's own statement by `tax_list`: the
# organization's default entity code and how many entities name the tax as their own default.
TAX_DEFAULT_ENTITY_CODE = "default_entity_code"
TAX_ENTITY_LINKS = "entity_link_count"


def tax_list(organization: Organization) -> QuerySet[Tax]:
    """The organization's taxes, each with its link counts (`TAX_LINK_COUNT_PREFIX`) and what its
    billing entity codes need (`TAX_DEFAULT_ENTITY_CODE`, `TAX_ENTITY_LINKS`)."""
    counts = {TAX_LINK_COUNT_PREFIX + relation: _link_count(relation) for relation in TAX_LINK_RELATIONS}
    default_code = BillingEntity.objects.filter(organization_id=OuterRef("organization_id"), is_default=True)
    return (
        Tax.objects.filter(organization=organization)
        .annotate(
            **counts,
            **{
                TAX_ENTITY_LINKS: _link_count("billing_entity_links"),
                TAX_DEFAULT_ENTITY_CODE: Subquery(default_code.values("code")[:1]),
            },
        )
        .order_by("-created_at", "id")
    )


def tax_get(organization: Organization, code: str) -> Tax:
    return found(tax_list(organization).filter(code=code).first(), "tax")


def organization_taxes(organization: Organization) -> list[Tax]:
    """The organization's default taxes (`applied_to_organization`)."""
    return list(Tax.objects.filter(organization=organization, applied_to_organization=True).order_by("code"))


def tax_billing_entity_codes(tax: Tax) -> list[str]:
    """Lago's `applied_to_billing_entities_codes`: the entities having the tax as a default tax (the
    default entity when it is `applied_to_organization`), by code. A tax read by `tax_list` carries
    what this needs (no statement unless an entity names the tax as its own)."""
    unread = object()
    links = getattr(tax, TAX_ENTITY_LINKS, unread)  # tax_list's annotations, when the tax came from it
    default_code = getattr(tax, TAX_DEFAULT_ENTITY_CODE, unread)
    codes: set[str] = set()
    if links is unread or links:
        codes.update(tax.billing_entity_links.values_list("billing_entity__code", flat=True))
    if tax.applied_to_organization:
        if default_code is not unread:
            codes.update([default_code] if isinstance(default_code, str) else [])
        else:
            codes.update(
                BillingEntity.objects.filter(organization_id=tax.organization_id, is_default=True).values_list(
                    "code", flat=True
                )
            )
    return sorted(codes)


def customer_taxes(customer: Customer, *, links: Sequence[CustomerTax] | None = None) -> list[Tax]:
    """The customer's own taxes, in the order they were applied. `links`: its `CustomerTax` rows
    (with their tax) when the caller read them already, or knows there are none."""
    if links is not None:
        return [link.tax for link in sorted(links, key=lambda link: (link.created_at, link.tax.code))]
    prefetched = getattr(customer, "_prefetched_objects_cache", {}).get("tax_links")
    if prefetched is not None:  # lists prefetch `tax_links__tax` (`customers.hooks.representation_prefetches`)
        return [link.tax for link in sorted(prefetched, key=lambda link: (link.created_at, link.tax.code))]
    return list(Tax.objects.filter(customer_links__customer=customer).order_by("customer_links__created_at", "code"))


def fee_taxes(
    organization: Organization,
    *,
    customer: Customer,
    plan: Plan | None = None,
    charge: Charge | None = None,
    add_on: AddOn | None = None,
    commitment: Commitment | None = None,
    tax_codes: list[str] | None = None,
) -> list[Tax]:
    """The taxes a fee takes: the first non-empty list, in Lago's order (docs/billing-semantics.md §6.2).

    explicit `tax_codes` (one-off invoice) → add-on → charge → commitment → plan (or the plan it
    overrides) → customer → organization defaults.
    """
    if tax_codes:
        found = list(Tax.objects.filter(organization=organization, code__in=tax_codes).order_by("code"))
        if found:
            return found
    candidates: list[Any] = [add_on, charge, commitment]
    if plan is not None:
        candidates.append(plan)
    for owner in candidates:
        if owner is not None:
            taxes = list(owner.taxes.all().order_by("code"))
            if taxes:
                return taxes
    taxes = customer_taxes(customer)
    if taxes:
        return taxes
    return organization_taxes(organization)


# --- add-ons and coupons ----------------------------------------------------------------------


def add_on_list(organization: Organization) -> QuerySet[AddOn]:
    return AddOn.live.filter(organization=organization).prefetch_related("taxes").order_by("-created_at", "id")


def add_on_get(organization: Organization, code: str) -> AddOn:
    return found(add_on_list(organization).filter(code=code).first(), "add_on")


def coupon_list(organization: Organization) -> QuerySet[Coupon]:
    return (
        Coupon.live.filter(organization=organization)
        .prefetch_related("targets__plan", "targets__billable_metric")
        .order_by("-created_at", "id")
    )


def coupon_get(organization: Organization, code: str) -> Coupon:
    return found(coupon_list(organization).filter(code=code).first(), "coupon")


def applied_coupon_list(
    organization: Organization,
    *,
    external_customer_id: str | None = None,
    status: str | None = None,
    coupon_codes: list[str] | None = None,
) -> QuerySet[AppliedCoupon]:
    qs = AppliedCoupon.objects.filter(organization=organization).select_related("coupon", "customer")
    if external_customer_id:
        qs = qs.filter(customer__external_id=external_customer_id, customer__deleted_at__isnull=True)
    return narrowed(qs, status=status, coupon__code__in=coupon_codes).order_by("-created_at", "id")


def customer_active_applied_coupons(organization: Organization, customer: Customer) -> QuerySet[AppliedCoupon]:
    """For invoicing: the customer's active applied coupons, oldest first (Lago's application order)."""
    return (
        AppliedCoupon.objects.filter(organization=organization, customer=customer, status=CouponStatus.ACTIVE)
        .select_related("coupon")
        .order_by("created_at", "id")
    )


def charge_filter_list(charge: Charge) -> QuerySet[ChargeFilter]:
    return ChargeFilter.live.filter(charge=charge).select_related("charge").order_by("created_at", "id")


def charge_filter_with_values(charge: Charge, values: dict[str, list[str]]) -> ChargeFilter | None:
    """The live filter of `charge` with these values, whatever their order (a subscription's copy of
    its plan's filter has the same values and another id)."""
    wanted = filter_values_key(values)
    return next((f for f in charge_filter_list(charge) if filter_values_key(f.values) == wanted), None)


def charge_filter_get(charge: Charge, filter_id: Any) -> ChargeFilter:
    pk = as_uuid(filter_id)
    return found(charge_filter_list(charge).filter(pk=pk).first() if pk else None, "charge_filter")
