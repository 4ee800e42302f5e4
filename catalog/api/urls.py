from __future__ import annotations

from django.urls import path

from catalog.api import fixed_charges, views

urlpatterns = [
    path("taxes", views.TaxCollectionView.as_view()),
    path("taxes/<str:code>", views.TaxDetailView.as_view()),
    path("billable_metrics", views.BillableMetricCollectionView.as_view()),
    path("billable_metrics/evaluate_expression", views.EvaluateExpressionView.as_view()),
    path("billable_metrics/<str:code>", views.BillableMetricDetailView.as_view()),
    path("add_ons", views.AddOnCollectionView.as_view()),
    path("add_ons/<str:code>", views.AddOnDetailView.as_view()),
    path("plans", views.PlanCollectionView.as_view()),
    path("plans/<str:code>", views.PlanDetailView.as_view()),
    path("plans/<str:code>/charges", views.PlanChargeCollectionView.as_view()),
    path("plans/<str:code>/charges/<str:charge_code>", views.PlanChargeDetailView.as_view()),
    path("plans/<str:code>/charges/<str:charge_code>/filters", views.ChargeFilterCollectionView.as_view()),
    path(
        "plans/<str:code>/charges/<str:charge_code>/filters/<str:filter_id>",
        views.ChargeFilterDetailView.as_view(),
    ),
    path("plans/<str:code>/fixed_charges", fixed_charges.PlanFixedChargeCollectionView.as_view()),
    path(
        "plans/<str:code>/fixed_charges/<str:fixed_charge_code>",
        fixed_charges.PlanFixedChargeDetailView.as_view(),
    ),
    path("plans/<str:code>/metadata", views.PlanMetadataView.as_view()),
    path("plans/<str:code>/metadata/<str:key>", views.PlanMetadataKeyView.as_view()),
    path("coupons", views.CouponCollectionView.as_view()),
    path("coupons/<str:code>", views.CouponDetailView.as_view()),
    path("applied_coupons", views.AppliedCouponCollectionView.as_view()),
    path("customers/<str:external_id>/applied_coupons", views.CustomerAppliedCouponListView.as_view()),
    path(
        "customers/<str:external_id>/applied_coupons/<str:applied_coupon_id>",
        views.CustomerAppliedCouponView.as_view(),
    ),
]
