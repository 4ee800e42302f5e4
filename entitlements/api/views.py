"""Features, plan entitlements and subscription entitlements, as Lago's API serves them
(`Api::V1::FeaturesController`, `Plans::EntitlementsController`, `Subscriptions::EntitlementsController`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.views import OrganizationAPIView, root_payload, validate_input
from billing_project.core.errors import BadRequestFailure, NotFoundFailure
from entitlements import selectors, services
from entitlements.api import filters
from entitlements.api import serializers as s
from entitlements.representation import (
    feature_payload,
    plan_entitlement_payload,
    subscription_entitlement_payload,
)

STATUS = filters.SubscriptionStatusFilters.schema_parameters()


def _privileges(items: list[dict[str, Any]] | None) -> list[services.PrivilegeInput]:
    return [
        services.PrivilegeInput(
            code=item["code"],
            name=item.get("name", services.UNSET),
            value_type=item.get("value_type", services.UNSET),
            config=item.get("config", services.UNSET),
            billable_metric_code=item.get("billable_metric_code", services.UNSET),
        )
        for item in items or []
    ]


def _entitlements(request: Request) -> dict[str, Any]:
    """The `entitlements` object of the body; absent is `{}`, as Lago's `params.fetch(:entitlements, {})`."""
    data = request.data
    if not isinstance(data, dict):
        raise BadRequestFailure("param is missing or the value is empty or invalid: entitlements")
    entitlements = data.get("entitlements")
    if entitlements is None:
        return {}
    if not isinstance(entitlements, dict):
        raise BadRequestFailure("param is missing or the value is empty or invalid: entitlements")
    return entitlements


def _status(request: Request) -> str | None:
    """`subscription_status` (or Lago's older `status`), read directly: the entitlement reads are on
    the hot path of the applications' own requests, and an unknown value is a 404 anyway."""
    params = request.query_params
    return params.get("subscription_status") or params.get("status") or None


class FeatureCollectionView(OrganizationAPIView):
    resource_name = "feature"

    @extend_schema(
        operation_id="features_list",
        summary="List features",
        parameters=filters.FeatureFilters.schema_parameters(),
        responses=s.FeatureListEnvelope,
    )
    def get(self, request: Request) -> Response:
        params = filters.FeatureFilters.parse(request)
        qs = selectors.feature_list(self.organization, search_term=params["search_term"])
        return paginated_response(request, qs, "features", lambda items: [feature_payload(f) for f in items])

    @extend_schema(
        operation_id="features_create",
        summary="Create a feature with its privileges",
        request=s.FeatureCreateEnvelope,
        responses=s.FeatureEnvelope,
    )
    def post(self, request: Request) -> Response:
        data = validate_input(s.FeatureCreateInput, root_payload(request, "feature"))
        feature = services.feature_create(
            self.organization,
            code=data["code"],
            name=data.get("name"),
            description=data.get("description"),
            privileges=_privileges(data.get("privileges")),
        )
        return Response({"feature": feature_payload(feature)})


class FeatureDetailView(OrganizationAPIView):
    resource_name = "feature"

    @extend_schema(operation_id="features_get", summary="One feature", responses=s.FeatureEnvelope)
    def get(self, request: Request, code: str) -> Response:
        return Response({"feature": feature_payload(selectors.feature_get(self.organization, code))})

    @extend_schema(
        operation_id="features_update",
        summary="Update a feature (privileges sent are added or updated, others are kept)",
        request=s.FeatureUpdateEnvelope,
        responses=s.FeatureEnvelope,
    )
    def put(self, request: Request, code: str) -> Response:
        data = validate_input(s.FeatureUpdateInput, root_payload(request, "feature"))
        feature = services.feature_update(
            self.organization,
            code=code,
            name=data.get("name", services.UNSET),
            description=data.get("description", services.UNSET),
            privileges=_privileges(data.get("privileges")),
        )
        return Response({"feature": feature_payload(feature)})

    @extend_schema(
        operation_id="features_destroy",
        summary="Delete a feature (it leaves every plan and subscription)",
        responses=s.FeatureEnvelope,
    )
    def delete(self, request: Request, code: str) -> Response:
        feature = services.feature_delete(self.organization, code=code)
        return Response({"feature": feature_payload(feature)})


class FeaturePrivilegeView(OrganizationAPIView):
    resource_name = "feature"

    @extend_schema(
        operation_id="features_privilege_destroy",
        summary="Delete a privilege of a feature (it leaves every plan and subscription)",
        responses=s.FeatureEnvelope,
    )
    def delete(self, request: Request, code: str, privilege_code: str) -> Response:
        feature = services.feature_privilege_delete(self.organization, code=code, privilege_code=privilege_code)
        return Response({"feature": feature_payload(feature)})


def _plan_list_body(entitlements: list[Any]) -> dict[str, Any]:
    return {"entitlements": [plan_entitlement_payload(e) for e in entitlements]}


class PlanEntitlementCollectionView(OrganizationAPIView):
    resource_name = "plan"

    @extend_schema(
        operation_id="plan_entitlements_list", summary="A plan's entitlements", responses=s.PlanEntitlementListEnvelope
    )
    def get(self, request: Request, code: str) -> Response:
        plan = selectors.entitlement_plan(self.organization, code)
        return Response(_plan_list_body(selectors.plan_entitlement_list(plan)))

    @extend_schema(
        operation_id="plan_entitlements_create",
        summary="Replace a plan's entitlements (features and privileges not sent are removed)",
        request=s.EntitlementsInputEnvelope,
        responses=s.PlanEntitlementListEnvelope,
    )
    def post(self, request: Request, code: str) -> Response:
        entitlements = services.plan_entitlements_update(
            self.organization, plan_code=code, entitlements=_entitlements(request), partial=False
        )
        return Response(_plan_list_body(entitlements))

    @extend_schema(
        operation_id="plan_entitlements_update",
        summary="Add or update a plan's entitlements (others are kept)",
        request=s.EntitlementsInputEnvelope,
        responses=s.PlanEntitlementListEnvelope,
    )
    def patch(self, request: Request, code: str) -> Response:
        entitlements = services.plan_entitlements_update(
            self.organization, plan_code=code, entitlements=_entitlements(request), partial=True
        )
        return Response(_plan_list_body(entitlements))


class PlanEntitlementDetailView(OrganizationAPIView):
    resource_name = "plan"

    @extend_schema(
        operation_id="plan_entitlements_get", summary="One entitlement of a plan", responses=s.PlanEntitlementEnvelope
    )
    def get(self, request: Request, code: str, feature_code: str) -> Response:
        plan = selectors.entitlement_plan(self.organization, code)
        entitlement = selectors.plan_entitlement_get(plan, feature_code)
        return Response({"entitlement": plan_entitlement_payload(entitlement)})

    @extend_schema(
        operation_id="plan_entitlements_destroy",
        summary="Remove a feature from a plan",
        responses=s.PlanEntitlementEnvelope,
    )
    def delete(self, request: Request, code: str, feature_code: str) -> Response:
        entitlement = services.plan_entitlement_delete(self.organization, plan_code=code, feature_code=feature_code)
        return Response({"entitlement": plan_entitlement_payload(entitlement)})


class PlanEntitlementPrivilegeView(OrganizationAPIView):
    resource_name = "plan"

    @extend_schema(
        operation_id="plan_entitlements_privilege_destroy",
        summary="Remove a privilege's value from a plan's entitlement",
        responses=s.PlanEntitlementEnvelope,
    )
    def delete(self, request: Request, code: str, feature_code: str, privilege_code: str) -> Response:
        entitlement = services.plan_entitlement_privilege_delete(
            self.organization, plan_code=code, feature_code=feature_code, privilege_code=privilege_code
        )
        return Response({"entitlement": plan_entitlement_payload(entitlement)})


def _subscription_list_body(organization: Any, subscription: Any) -> dict[str, Any]:
    resolved = selectors.subscription_entitlements(organization, subscription)
    return {"entitlements": [subscription_entitlement_payload(e) for e in resolved]}


class SubscriptionEntitlementCollectionView(OrganizationAPIView):
    resource_name = "subscription"

    @extend_schema(
        operation_id="subscription_entitlements_list",
        summary="A subscription's entitlements: the plan's with the subscription's overrides, and usage against limits",
        parameters=STATUS,
        responses=s.SubscriptionEntitlementListEnvelope,
    )
    def get(self, request: Request, external_id: str) -> Response:
        resolved = selectors.subscription_entitlements_read(self.organization, external_id, status=_status(request))
        return Response({"entitlements": [subscription_entitlement_payload(e) for e in resolved]})

    @extend_schema(
        operation_id="subscription_entitlements_update",
        summary="Override a subscription's entitlements (features and privileges not sent are kept)",
        parameters=STATUS,
        request=s.EntitlementsInputEnvelope,
        responses=s.SubscriptionEntitlementListEnvelope,
    )
    def patch(self, request: Request, external_id: str) -> Response:
        subscription = services.subscription_entitlements_update(
            self.organization, external_id=external_id, status=_status(request), entitlements=_entitlements(request)
        )
        return Response(_subscription_list_body(self.organization, subscription))


class SubscriptionEntitlementDetailView(OrganizationAPIView):
    resource_name = "subscription"

    @extend_schema(
        operation_id="subscription_entitlements_get",
        summary="One feature of a subscription's entitlements (bxb extra; 404 entitlement_not_found without it)",
        parameters=STATUS,
        responses=s.SubscriptionEntitlementEnvelope,
    )
    def get(self, request: Request, external_id: str, feature_code: str) -> Response:
        resolved = selectors.subscription_entitlements_read(
            self.organization, external_id, status=_status(request), feature_code=feature_code
        )
        if not resolved:
            raise NotFoundFailure("entitlement")
        return Response({"entitlement": subscription_entitlement_payload(resolved[0])})

    @extend_schema(
        operation_id="subscription_entitlements_destroy",
        summary="Remove a feature from a subscription (its overrides, and the plan's grant for this subscription)",
        parameters=STATUS,
        responses=s.SubscriptionEntitlementListEnvelope,
    )
    def delete(self, request: Request, external_id: str, feature_code: str) -> Response:
        subscription = services.subscription_feature_remove(
            self.organization, external_id=external_id, status=_status(request), feature_code=feature_code
        )
        return Response(_subscription_list_body(self.organization, subscription))


class SubscriptionEntitlementPrivilegeView(OrganizationAPIView):
    resource_name = "subscription"

    @extend_schema(
        operation_id="subscription_entitlements_privilege_destroy",
        summary="Remove a privilege from a subscription (its override, and the plan's value for this subscription)",
        parameters=STATUS,
        responses=s.SubscriptionEntitlementListEnvelope,
    )
    def delete(self, request: Request, external_id: str, feature_code: str, privilege_code: str) -> Response:
        subscription = services.subscription_privilege_remove(
            self.organization,
            external_id=external_id,
            status=_status(request),
            feature_code=feature_code,
            privilege_code=privilege_code,
        )
        return Response(_subscription_list_body(self.organization, subscription))
