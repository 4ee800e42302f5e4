from __future__ import annotations

from billing_project.core.api.resources import resource_routes, route
from catalog.api import fixed_charges
from catalog.api import views as v

_CHARGE = "plans/<str:code>/charges/<str:charge_code>"
_APPLIED = "customers/<str:external_id>/applied_coupons"

urlpatterns = [
    route("taxes", v.TaxCollectionView),
    route("taxes/<str:code>", v.TaxDetailView),
    route("billable_metrics/evaluate_expression", v.EvaluateExpressionView),  # before billable_metrics/<code>
    *resource_routes("billable_metrics", "code", v.BillableMetricCollectionView, v.BillableMetricDetailView),
    *resource_routes("add_ons", "code", v.AddOnCollectionView, v.AddOnDetailView),
    *resource_routes("plans", "code", v.PlanCollectionView, v.PlanDetailView),
    route("plans/<str:code>/charges", v.PlanChargeCollectionView),
    route(_CHARGE, v.PlanChargeDetailView),
    route(f"{_CHARGE}/filters", v.ChargeFilterCollectionView),
    route(f"{_CHARGE}/filters/<str:filter_id>", v.ChargeFilterDetailView),
    route("plans/<str:code>/fixed_charges", fixed_charges.PlanFixedChargeCollectionView),
    route("plans/<str:code>/fixed_charges/<str:fixed_charge_code>", fixed_charges.PlanFixedChargeDetailView),
    route("plans/<str:code>/metadata", v.PlanMetadataView),
    route("plans/<str:code>/metadata/<str:key>", v.PlanMetadataKeyView),
    *resource_routes("coupons", "code", v.CouponCollectionView, v.CouponDetailView),
    route("applied_coupons", v.AppliedCouponCollectionView),
    route(_APPLIED, v.CustomerAppliedCouponListView),
    route(f"{_APPLIED}/<str:applied_coupon_id>", v.CustomerAppliedCouponView),
]
