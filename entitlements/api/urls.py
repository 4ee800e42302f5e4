from django.urls import path

from entitlements.api import views

urlpatterns = [
    path("features", views.FeatureCollectionView.as_view(), name="features"),
    path("features/<str:code>", views.FeatureDetailView.as_view(), name="feature-detail"),
    path(
        "features/<str:code>/privileges/<str:privilege_code>",
        views.FeaturePrivilegeView.as_view(),
        name="feature-privilege",
    ),
    path("plans/<str:code>/entitlements", views.PlanEntitlementCollectionView.as_view(), name="plan-entitlements"),
    path(
        "plans/<str:code>/entitlements/<str:feature_code>",
        views.PlanEntitlementDetailView.as_view(),
        name="plan-entitlement-detail",
    ),
    path(
        "plans/<str:code>/entitlements/<str:feature_code>/privileges/<str:privilege_code>",
        views.PlanEntitlementPrivilegeView.as_view(),
        name="plan-entitlement-privilege",
    ),
    path(
        "subscriptions/<str:external_id>/entitlements",
        views.SubscriptionEntitlementCollectionView.as_view(),
        name="subscription-entitlements",
    ),
    path(
        "subscriptions/<str:external_id>/entitlements/<str:feature_code>",
        views.SubscriptionEntitlementDetailView.as_view(),
        name="subscription-entitlement-detail",
    ),
    path(
        "subscriptions/<str:external_id>/entitlements/<str:feature_code>/privileges/<str:privilege_code>",
        views.SubscriptionEntitlementPrivilegeView.as_view(),
        name="subscription-entitlement-privilege",
    ),
]
