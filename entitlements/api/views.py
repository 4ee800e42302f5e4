"""Features, plan entitlements and subscription entitlements, as Lago's API serves them
(`Api::V1::FeaturesController`, `Plans::EntitlementsController`, `Subscriptions::EntitlementsController`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.resources import ResourceView, endpoint
from billing_project.core.errors import BadRequestFailure, NotFoundFailure
from entitlements import read_path, selectors, services
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


def _status(request: Request | HttpRequest) -> str | None:
    """`subscription_status` (or Lago's older `status`), read directly: the entitlement reads are on
    the hot path of the applications' own requests, and an unknown value is a 404 anyway."""
    params = request.query_params if isinstance(request, Request) else request.GET
    return params.get("subscription_status") or params.get("status") or None


class FeatureView(ResourceView):
    resource_name = "feature"
    render = staticmethod(feature_payload)


class FeatureCollectionView(FeatureView):
    @endpoint("features_list", s.FeatureListEnvelope, parameters=filters.FeatureFilters.schema_parameters())
    def get(self, request: Request) -> Response:
        """List features"""
        params = filters.FeatureFilters.parse(request)
        return self.page(request, selectors.feature_list(self.organization, search_term=params["search_term"]))

    @endpoint("features_create", s.FeatureEnvelope, request=s.FeatureCreateEnvelope)
    def post(self, request: Request) -> Response:
        """Create a feature with its privileges"""
        data = self.body(request, s.FeatureCreateInput)
        feature = services.feature_create(
            self.organization,
            code=data["code"],
            name=data.get("name"),
            description=data.get("description"),
            privileges=_privileges(data.get("privileges")),
        )
        return self.one(feature)


class FeatureDetailView(FeatureView):
    @endpoint("features_get", s.FeatureEnvelope)
    def get(self, request: Request, code: str) -> Response:
        """One feature"""
        return self.one(selectors.feature_get(self.organization, code))

    @endpoint("features_update", s.FeatureEnvelope, request=s.FeatureUpdateEnvelope)
    def put(self, request: Request, code: str) -> Response:
        """Update a feature (privileges sent are added or updated, others are kept)"""
        data = self.body(request, s.FeatureUpdateInput)
        feature = services.feature_update(
            self.organization,
            code=code,
            name=data.get("name", services.UNSET),
            description=data.get("description", services.UNSET),
            privileges=_privileges(data.get("privileges")),
        )
        return self.one(feature)

    @endpoint("features_destroy", s.FeatureEnvelope)
    def delete(self, request: Request, code: str) -> Response:
        """Delete a feature (it leaves every plan and subscription)"""
        return self.one(services.feature_delete(self.organization, code=code))


class FeaturePrivilegeView(FeatureView):
    @endpoint("features_privilege_destroy", s.FeatureEnvelope)
    def delete(self, request: Request, code: str, privilege_code: str) -> Response:
        """Delete a privilege of a feature (it leaves every plan and subscription)"""
        return self.one(services.feature_privilege_delete(self.organization, code=code, privilege_code=privilege_code))


class PlanEntitlementView(ResourceView):
    resource_name = "plan"
    root_key = "entitlement"
    render = staticmethod(plan_entitlement_payload)

    def all(self, entitlements: list[Any]) -> Response:
        """`{"entitlements": [...]}`: a plan's entitlements, unpaginated as Lago answers them."""
        return Response({"entitlements": self.render_many(entitlements)})

    def replace(self, request: Request, code: str, *, partial: bool) -> Response:
        entitlements = services.plan_entitlements_update(
            self.organization, plan_code=code, entitlements=_entitlements(request), partial=partial
        )
        return self.all(entitlements)


class PlanEntitlementCollectionView(PlanEntitlementView):
    @endpoint("plan_entitlements_list", s.PlanEntitlementListEnvelope)
    def get(self, request: Request, code: str) -> Response:
        """A plan's entitlements"""
        return self.all(selectors.plan_entitlement_list(selectors.entitlement_plan(self.organization, code)))

    @endpoint("plan_entitlements_create", s.PlanEntitlementListEnvelope, request=s.EntitlementsInputEnvelope)
    def post(self, request: Request, code: str) -> Response:
        """Replace a plan's entitlements (features and privileges not sent are removed)"""
        return self.replace(request, code, partial=False)

    @endpoint("plan_entitlements_update", s.PlanEntitlementListEnvelope, request=s.EntitlementsInputEnvelope)
    def patch(self, request: Request, code: str) -> Response:
        """Add or update a plan's entitlements (others are kept)"""
        return self.replace(request, code, partial=True)


class PlanEntitlementDetailView(PlanEntitlementView):
    @endpoint("plan_entitlements_get", s.PlanEntitlementEnvelope)
    def get(self, request: Request, code: str, feature_code: str) -> Response:
        """One entitlement of a plan"""
        plan = selectors.entitlement_plan(self.organization, code)
        return self.one(selectors.plan_entitlement_get(plan, feature_code))

    @endpoint("plan_entitlements_destroy", s.PlanEntitlementEnvelope)
    def delete(self, request: Request, code: str, feature_code: str) -> Response:
        """Remove a feature from a plan"""
        return self.one(services.plan_entitlement_delete(self.organization, plan_code=code, feature_code=feature_code))


class PlanEntitlementPrivilegeView(PlanEntitlementView):
    @endpoint("plan_entitlements_privilege_destroy", s.PlanEntitlementEnvelope)
    def delete(self, request: Request, code: str, feature_code: str, privilege_code: str) -> Response:
        """Remove a privilege's value from a plan's entitlement"""
        entitlement = services.plan_entitlement_privilege_delete(
            self.organization, plan_code=code, feature_code=feature_code, privilege_code=privilege_code
        )
        return self.one(entitlement)


class SubscriptionEntitlementView(ResourceView):
    resource_name = "subscription"
    root_key = "entitlement"
    render = staticmethod(subscription_entitlement_payload)

    def all(self, subscription: Any) -> Response:
        """`{"entitlements": [...]}`: the subscription's resolved entitlements after a change."""
        resolved = selectors.subscription_entitlements(self.organization, subscription)
        return Response({"entitlements": self.render_many(resolved)})


class SubscriptionEntitlementCollectionView(SubscriptionEntitlementView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # The entitlement check, answered without DRF's per-request machinery when nothing calls for
        # it (`OrganizationAPIView.answer_get_directly`); everything else goes through `get` below.
        if request.method == "GET":
            answer = self.answer_get_directly(request, lambda key: self.read(request, key, kwargs["external_id"]))
            if answer is not None:
                return answer
        return super().dispatch(request, *args, **kwargs)

    def read(self, request: Request | HttpRequest, api_key: Any, external_id: str) -> dict[str, Any]:
        resolved = read_path.subscription_entitlements_read(api_key.organization, external_id, status=_status(request))
        return {"entitlements": self.render_many(resolved)}

    @endpoint("subscription_entitlements_list", s.SubscriptionEntitlementListEnvelope, parameters=STATUS)
    def get(self, request: Request, external_id: str) -> Response:
        """A subscription's entitlements: the plan's with the subscription's overrides, and usage against limits"""
        return Response(self.read(request, self.api_key, external_id))

    @endpoint(
        "subscription_entitlements_update",
        s.SubscriptionEntitlementListEnvelope,
        request=s.EntitlementsInputEnvelope,
        parameters=STATUS,
    )
    def patch(self, request: Request, external_id: str) -> Response:
        """Override a subscription's entitlements (features and privileges not sent are kept)"""
        subscription = services.subscription_entitlements_update(
            self.organization, external_id=external_id, status=_status(request), entitlements=_entitlements(request)
        )
        return self.all(subscription)


class SubscriptionEntitlementDetailView(SubscriptionEntitlementView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # As the collection's: the single-feature check without DRF's per-request machinery.
        if request.method == "GET":
            answer = self.answer_get_directly(
                request, lambda key: self.read(request, key, kwargs["external_id"], kwargs["feature_code"])
            )
            if answer is not None:
                return answer
        return super().dispatch(request, *args, **kwargs)

    def read(self, request: Request | HttpRequest, api_key: Any, external_id: str, feature_code: str) -> dict[str, Any]:
        resolved = read_path.subscription_entitlements_read(
            api_key.organization, external_id, status=_status(request), feature_code=feature_code
        )
        if not resolved:
            raise NotFoundFailure("entitlement")
        return {self.root(): self.render(resolved[0])}

    @endpoint("subscription_entitlements_get", s.SubscriptionEntitlementEnvelope, parameters=STATUS)
    def get(self, request: Request, external_id: str, feature_code: str) -> Response:
        """One feature of a subscription's entitlements (bxb extra; 404 entitlement_not_found without it)"""
        return Response(self.read(request, self.api_key, external_id, feature_code))

    @endpoint("subscription_entitlements_destroy", s.SubscriptionEntitlementListEnvelope, parameters=STATUS)
    def delete(self, request: Request, external_id: str, feature_code: str) -> Response:
        """Remove a feature from a subscription (its overrides, and the plan's grant for this subscription)"""
        subscription = services.subscription_feature_remove(
            self.organization, external_id=external_id, status=_status(request), feature_code=feature_code
        )
        return self.all(subscription)


class SubscriptionEntitlementPrivilegeView(SubscriptionEntitlementView):
    @endpoint("subscription_entitlements_privilege_destroy", s.SubscriptionEntitlementListEnvelope, parameters=STATUS)
    def delete(self, request: Request, external_id: str, feature_code: str, privilege_code: str) -> Response:
        """Remove a privilege from a subscription (its override, and the plan's value for this subscription)"""
        subscription = services.subscription_privilege_remove(
            self.organization,
            external_id=external_id,
            status=_status(request),
            feature_code=feature_code,
            privilege_code=privilege_code,
        )
        return self.all(subscription)
