"""Reads of the catalog. Every selector takes the organization first."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db.models import Count, F, Func, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, TextField
from django.db.models.functions import Coalesce

from billing_project.core import json_rows
from billing_project.core.api.pagination import PreparedPages
from billing_project.core.found import found
from billing_project.core.narrowing import narrowed
from billing_project.core.prepared import PreparedQuery
from catalog.hooks import plan_usage
from catalog.models import (
    AddOn,
    AppliedCoupon,
    BillableMetric,
    BillableMetricFilter,
    Charge,
    ChargeFilter,
    ChargeTax,
    Commitment,
    CommitmentTax,
    Coupon,
    CouponStatus,
    CustomerTax,
    FixedCharge,
    FixedChargeTax,
    Plan,
    PlanTax,
    Tax,
    UsageThreshold,
)
from catalog.services.common import as_uuid, filter_values_key
from customers.models import BillingEntity, Customer, Organization

T = TypeVar("T")


def _by_code(build: Callable[[Any], QuerySet[Any]]) -> PreparedQuery:
    """One object of an organization's list by code, compiled once per process (`PreparedQuery`:
    SQL text, no rows; a list that prefetches is read through the ORM)."""
    return PreparedQuery(lambda p: build(p.organization).filter(code=p.code)[:1], organization=uuid.UUID, code=str)


def _one(query: PreparedQuery, organization: Organization, code: str, resource: str) -> Any:
    [row] = query.fetch(organization=organization.pk, code=code) or [None]
    return found(row, resource)


# --- metrics ----------------------------------------------------------------------------------


# The metric object's `plans_count` (live plans, not overrides, with a live charge of the metric),
# counted in the metric's own statement by `billable_metric_list`.
METRIC_PLANS_COUNT = "plans_count_read"
# The metric's live filters as JSON text, read in its statement on PostgreSQL (json_rows).
METRIC_FILTERS = "filters_json"


@functools.cache
def _metric_filters_sql() -> str:
    filters = _json_list(
        json_rows.columns_sql(BillableMetricFilter, "mf"),
        f"{_table(BillableMetricFilter)} mf WHERE mf.{_column(BillableMetricFilter, 'billable_metric')} = "
        "%(expressions)s AND mf.deleted_at IS NULL",
        "mf.created_at, mf.id",
    )
    return f"({filters}::text)"


def billable_metric_list(organization: Organization) -> QuerySet[BillableMetric]:
    """The organization's live metrics, each with its `plans_count` (`METRIC_PLANS_COUNT`) and its
    live filters (in the metric's statement on PostgreSQL, else prefetched)."""
    charges = Charge.live.filter(
        billable_metric=OuterRef("pk"), plan__deleted_at__isnull=True, plan__parent__isnull=True
    )
    plans = charges.order_by().values("billable_metric_id").annotate(n=Count("plan_id", distinct=True)).values("n")
    metrics = BillableMetric.live.filter(organization=organization).annotate(
        **{METRIC_PLANS_COUNT: Coalesce(Subquery(plans, output_field=IntegerField()), 0)}
    )
    if json_rows.supported(metrics.db):
        return metrics.annotate(
            **{METRIC_FILTERS: Func(F("pk"), template=_metric_filters_sql(), output_field=TextField())}
        )
    return metrics.prefetch_related(
        Prefetch("filters", queryset=BillableMetricFilter.live.all(), to_attr="live_filters")
    )


METRIC_PAGES = PreparedPages(lambda p: billable_metric_list(p.organization), organization=uuid.UUID)
_METRIC_BY_CODE = _by_code(lambda organization: billable_metric_list(organization))


def billable_metric_get(organization: Organization, code: str) -> BillableMetric:
    return _one(_METRIC_BY_CODE, organization, code, "billable_metric")


def _prefetched(row: Any, to_attr: str, read: Callable[[], Iterable[T]]) -> list[T]:
    """The list a `Prefetch(..., to_attr=to_attr)` left on `row` (a list read prefetched it), else `read()`."""
    rows = getattr(row, to_attr, None)
    return rows if rows is not None else list(read())


def billable_metric_filters(metric: BillableMetric) -> list[BillableMetricFilter]:
    text = metric.__dict__.pop(METRIC_FILTERS, None)
    if text is not None:  # read with the metric (`billable_metric_list`)
        metric.live_filters = [json_rows.instance(BillableMetricFilter, row) for row in json_rows.loads(text)]  # type: ignore[attr-defined]
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


# What the plan object shows besides the plan's row, read in the plan's own statement on PostgreSQL
# (`plan_read_annotations`; billing_project.core.json_rows): `PLAN_RELATED` is the JSON text of its
# live charges (each with its metric, live filters and taxes), taxes, live usage thresholds,
# commitments (with their taxes) and live fixed charges (with their add-on and taxes);
# `PLAN_COUNTS` the JSON text of `plan_usage`'s two counts. `plan_related_rows` turns them into
# what the prefetches below leave on a plan, the first time a reader asks.
PLAN_RELATED = "related_rows_json"
PLAN_COUNTS = "usage_counts_json"


_json_list, _table, _column = json_rows.list_sql, json_rows.table, json_rows.column


def _taxes_json(link: type[Any], owner_field: str, owner: str, alias: str) -> str:
    """The taxes linked to `owner` (an SQL value) through `link`, in `Tax`'s order."""
    return _json_list(
        json_rows.columns_sql(Tax, alias),
        f"{_table(Tax)} {alias} JOIN {_table(link)} {alias}_l ON {alias}_l.{_column(link, 'tax')} = {alias}.id "
        f"WHERE {alias}_l.{_column(link, owner_field)} = {owner}",
        f"{alias}.created_at DESC, {alias}.id",
    )


@functools.cache
def _plan_related_sql() -> str:
    plan = "%(expressions)s"
    cols = json_rows.columns_sql
    charge_filters = _json_list(
        cols(ChargeFilter, "cf"),
        f"{_table(ChargeFilter)} cf WHERE cf.{_column(ChargeFilter, 'charge')} = c.id AND cf.deleted_at IS NULL",
        "cf.created_at, cf.id",
    )
    charges = _json_list(
        f"{cols(Charge, 'c')}, {cols(BillableMetric, 'm')}, {charge_filters}, "
        + _taxes_json(ChargeTax, "charge", "c.id", "ct"),
        f"{_table(Charge)} c JOIN {_table(BillableMetric)} m ON m.id = c.{_column(Charge, 'billable_metric')} "
        f"WHERE c.{_column(Charge, 'plan')} = {plan} AND c.deleted_at IS NULL",
        "c.created_at, c.id",
    )
    thresholds = _json_list(
        cols(UsageThreshold, "u"),
        f"{_table(UsageThreshold)} u WHERE u.{_column(UsageThreshold, 'plan')} = {plan} AND u.deleted_at IS NULL",
        "u.amount_cents, u.created_at, u.id",
    )
    commitments = _json_list(
        f"{cols(Commitment, 'k')}, " + _taxes_json(CommitmentTax, "commitment", "k.id", "kt"),
        f"{_table(Commitment)} k WHERE k.{_column(Commitment, 'plan')} = {plan}",
        "k.created_at, k.id",
    )
    fixed_charges = _json_list(
        f"{cols(FixedCharge, 'x')}, {cols(AddOn, 'a')}, " + _taxes_json(FixedChargeTax, "fixed_charge", "x.id", "xt"),
        f"{_table(FixedCharge)} x JOIN {_table(AddOn)} a ON a.id = x.{_column(FixedCharge, 'add_on')} "
        f"WHERE x.{_column(FixedCharge, 'plan')} = {plan} AND x.deleted_at IS NULL",
        "x.created_at, x.id",
    )
    taxes = _taxes_json(PlanTax, "plan", plan, "pt")
    return f"(json_build_array({charges}, {taxes}, {thresholds}, {commitments}, {fixed_charges})::text)"


def plan_read_annotations(plan_ref: str) -> dict[str, Any]:
    """The annotations that carry what a plan object shows (`PLAN_RELATED`, `PLAN_COUNTS`) on the
    row of a query whose column `plan_ref` holds the plan's id (`"pk"` on plans). PostgreSQL only
    (`json_rows.supported`)."""
    return {
        PLAN_RELATED: Func(F(plan_ref), template=_plan_related_sql(), output_field=TextField()),
        PLAN_COUNTS: plan_usage.get().counts_json(plan_ref),
    }


def plan_take_related(plan: Plan, row: Any) -> None:
    """Move what `plan_read_annotations` read on `row` (the plan itself, or a row naming it: a
    subscription) onto `plan`."""
    for name in (PLAN_RELATED, PLAN_COUNTS):
        value = row.__dict__.pop(name, None)
        if value is not None:
            setattr(plan, name, value)  # an annotation, placed as Django's `annotate` places it


def plan_related_rows(plan: Plan) -> None:
    """Turn `PLAN_RELATED`, when the plan was read with it, into the lists the prefetches of
    `plan_list` leave (`live_charges`, `live_thresholds`, `live_fixed_charges`) and the lists
    `object_taxes` and `plan_minimum_commitment` read (`live_taxes` on the plan, its charges,
    commitments and fixed charges; `live_commitments`). Once per plan; nothing to do otherwise."""
    text = plan.__dict__.pop(PLAN_RELATED, None)
    if text is None:
        return
    charges, taxes, thresholds, commitments, fixed_charges = json_rows.loads(text)
    instance, related = json_rows.instance, json_rows.related
    charge_width, metric_width = json_rows.width(Charge), json_rows.width(BillableMetric)

    def taxes_of(rows: list[Any]) -> list[Tax]:
        return [instance(Tax, row) for row in rows]

    live_charges = []
    for row in charges:
        charge = instance(Charge, row[:charge_width])
        related(charge, "billable_metric", instance(BillableMetric, row[charge_width : charge_width + metric_width]))
        filters = [instance(ChargeFilter, values) for values in row[charge_width + metric_width]]
        for charge_filter in filters:
            related(charge_filter, "charge", charge)
        charge.live_filters = filters  # type: ignore[attr-defined]
        charge.live_taxes = taxes_of(row[charge_width + metric_width + 1])  # type: ignore[attr-defined]
        live_charges.append(charge)
    plan.live_charges = live_charges  # type: ignore[attr-defined]
    plan.live_taxes = taxes_of(taxes)  # type: ignore[attr-defined]
    plan.live_thresholds = [instance(UsageThreshold, row) for row in thresholds]  # type: ignore[attr-defined]
    commitment_width = json_rows.width(Commitment)
    plan_commitments = []
    for row in commitments:
        commitment = instance(Commitment, row[:commitment_width])
        related(commitment, "plan", plan)
        commitment.live_taxes = taxes_of(row[commitment_width])  # type: ignore[attr-defined]
        plan_commitments.append(commitment)
    plan.live_commitments = plan_commitments  # type: ignore[attr-defined]
    fixed_width, add_on_width = json_rows.width(FixedCharge), json_rows.width(AddOn)
    live_fixed_charges = []
    for row in fixed_charges:
        fixed_charge = instance(FixedCharge, row[:fixed_width])
        related(fixed_charge, "add_on", instance(AddOn, row[fixed_width : fixed_width + add_on_width]))
        fixed_charge.live_taxes = taxes_of(row[fixed_width + add_on_width])  # type: ignore[attr-defined]
        live_fixed_charges.append(fixed_charge)
    plan.live_fixed_charges = live_fixed_charges  # type: ignore[attr-defined]


def plan_usage_counts(plan: Plan) -> tuple[int, int]:
    """(active subscriptions, customers with one) on the plan and its overrides: read with the plan
    (`PLAN_COUNTS`) or now (`plan_usage`)."""
    text = plan.__dict__.pop(PLAN_COUNTS, None)
    if text is None:
        return plan_usage.get().counts(plan)
    active, customers = json_rows.loads(text)
    return int(active), int(customers)


def plan_list(organization: Organization) -> QuerySet[Plan]:
    """Plans as the API lists them: live, and not per-subscription overrides, with what their API
    object shows (in the plan's statement on PostgreSQL, else prefetched)."""
    plans = Plan.live.filter(organization=organization, parent__isnull=True).order_by("-created_at", "id")
    if json_rows.supported(plans.db):
        return plans.annotate(**plan_read_annotations("pk"))
    return plans.prefetch_related(
        _charges_prefetch(),
        "taxes",
        Prefetch("usage_thresholds", queryset=UsageThreshold.live.all(), to_attr="live_thresholds"),
        Prefetch("commitments", queryset=Commitment.objects.prefetch_related("taxes")),
        Prefetch("fixed_charges", queryset=_fixed_charges(), to_attr="live_fixed_charges"),
    )


# A plan by code and the plans' pages, compiled once per process and `plan_usage` implementation
# (one entry): the statement holds the hook's subquery, which a compiled copy would keep past a
# change of the hook's implementation (tests swap it).
_PLAN_QUERIES: dict[Any, tuple[PreparedQuery, PreparedPages]] = {}


def _plan_queries() -> tuple[PreparedQuery, PreparedPages]:
    implementation = plan_usage.get()
    entry = _PLAN_QUERIES.get(implementation)
    if entry is None:
        _PLAN_QUERIES.clear()
        pages = PreparedPages(lambda p: plan_list(p.organization), organization=uuid.UUID)
        entry = _PLAN_QUERIES[implementation] = (_by_code(plan_list), pages)
    return entry


def plan_pages() -> PreparedPages:
    """The plans' pages as `plan_list` answers them, compiled once (see `_plan_queries`)."""
    return _plan_queries()[1]


def plan_get(organization: Organization, code: str) -> Plan:
    return _one(_plan_queries()[0], organization, code, "plan")


def plan_get_by_id(organization: Organization, plan_id: Any) -> Plan:
    """Any plan of the organization by id, overrides included (subscriptions keep plan ids)."""
    pk = as_uuid(plan_id)
    return found(Plan.objects.filter(organization=organization, pk=pk).first() if pk else None, "plan")


def plan_charges(plan: Plan) -> list[Charge]:
    plan_related_rows(plan)
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
    plan_related_rows(plan)
    return _prefetched(plan, "live_fixed_charges", lambda: _fixed_charges().filter(plan=plan))


def plan_fixed_charge_get(organization: Organization, plan_code: str, code: str) -> FixedCharge:
    fixed_charges = plan_fixed_charges(plan_get(organization, plan_code))
    return found(next((item for item in fixed_charges if item.code == code), None), "fixed_charge")


def plan_usage_thresholds(plan: Plan) -> list[UsageThreshold]:
    plan_related_rows(plan)
    return _prefetched(plan, "live_thresholds", lambda: UsageThreshold.live.filter(plan=plan))


def plan_minimum_commitment(plan: Plan) -> Commitment | None:
    plan_related_rows(plan)
    commitments = _prefetched(plan, "live_commitments", lambda: plan.commitments.all())
    return commitments[0] if commitments else None


def object_taxes(owner: Plan | Charge | Commitment | FixedCharge | AddOn) -> list[Tax]:
    """An object's taxes: the list its read carried (`plan_related_rows`), else its `taxes` relation
    (prefetched or read now)."""
    return _prefetched(owner, "live_taxes", lambda: owner.taxes.all())


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


# The lists and the reads by code of the API, compiled once per page shape or process.
TAX_PAGES = PreparedPages(lambda p: tax_list(p.organization), organization=uuid.UUID)
_TAX_BY_CODE = _by_code(lambda organization: tax_list(organization))


def tax_get(organization: Organization, code: str) -> Tax:
    return _one(_TAX_BY_CODE, organization, code, "tax")


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
