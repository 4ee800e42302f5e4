from billing_project.core.api.resources import resource_routes, route
from entitlements.api import views as v

_PLAN = "plans/<str:code>/entitlements"
_SUBSCRIPTION = "subscriptions/<str:external_id>/entitlements"

urlpatterns = [
    *resource_routes("features", "code", v.FeatureCollectionView, v.FeatureDetailView),
    route("features/<str:code>/privileges/<str:privilege_code>", v.FeaturePrivilegeView, "feature-privilege"),
    route(_PLAN, v.PlanEntitlementCollectionView, "plan-entitlements"),
    route(f"{_PLAN}/<str:feature_code>", v.PlanEntitlementDetailView, "plan-entitlement-detail"),
    route(
        f"{_PLAN}/<str:feature_code>/privileges/<str:privilege_code>",
        v.PlanEntitlementPrivilegeView,
        "plan-entitlement-privilege",
    ),
    route(_SUBSCRIPTION, v.SubscriptionEntitlementCollectionView, "subscription-entitlements"),
    route(
        f"{_SUBSCRIPTION}/<str:feature_code>", v.SubscriptionEntitlementDetailView, "subscription-entitlement-detail"
    ),
    route(
        f"{_SUBSCRIPTION}/<str:feature_code>/privileges/<str:privilege_code>",
        v.SubscriptionEntitlementPrivilegeView,
        "subscription-entitlement-privilege",
    ),
]
