"""`/subscriptions/{external_id}/fixed_charges[/{fixed_charge_code}]`: a subscription's fixed charges,
with the units it holds now; `PUT` overrides its units and price (docs/subscriptions.md)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import meta_for
from billing_project.core.api.resources import endpoint
from billing_project.core.api.views import OrganizationAPIView, root_payload, validate_input
from billing_project.core.errors import NotFoundFailure
from catalog.api import serializers as catalog_serializers
from catalog.inputs import FixedChargeFields
from subscriptions.api import filters
from subscriptions.selectors import subscription_get
from subscriptions.services.fixed_charges import subscription_fixed_charge_update, subscription_fixed_charges

Output = catalog_serializers.FixedChargeOutput


class SubscriptionFixedChargeCollectionView(OrganizationAPIView):
    resource_name = "subscription"

    @endpoint(
        "subscription_fixed_charges_list",
        catalog_serializers.FixedChargeListEnvelope,
        parameters=filters.CHARGE_LIST_PARAMETERS,
        tags=["Subscriptions"],
    )
    def get(self, request: Request, external_id: str) -> Response:
        status = filters.charges_subscription_status(request, paginated=True)
        held = subscription_fixed_charges(subscription_get(self.organization, external_id, status=status))
        items = [f for f, _ in held]
        units = {f.id: u for f, u in held}
        return Response(
            {
                "fixed_charges": Output(items, many=True, context={"units": units}).data,
                "meta": meta_for(len(items), 1, len(items) or 1),
            }
        )


class SubscriptionFixedChargeDetailView(OrganizationAPIView):
    resource_name = "subscription"

    @endpoint(
        "subscription_fixed_charges_retrieve",
        catalog_serializers.FixedChargeEnvelope,
        parameters=filters.CHARGE_PARAMETERS,
        tags=["Subscriptions"],
    )
    def get(self, request: Request, external_id: str, fixed_charge_code: str) -> Response:
        subscription = subscription_get(
            self.organization, external_id, status=filters.charges_subscription_status(request)
        )
        for fixed, units in subscription_fixed_charges(subscription):
            if fixed.code == fixed_charge_code:
                return Response({"fixed_charge": Output(fixed, context={"units": {fixed.id: units}}).data})
        raise NotFoundFailure("fixed_charge")

    @endpoint(
        "subscription_fixed_charges_update",
        catalog_serializers.FixedChargeEnvelope,
        request=catalog_serializers.FixedChargeInputEnvelope,
        parameters=filters.CHARGE_PARAMETERS,
        tags=["Subscriptions"],
    )
    def put(self, request: Request, external_id: str, fixed_charge_code: str) -> Response:
        payload = root_payload(request, "fixed_charge", lago_only=catalog_serializers.FIXED_CHARGE_LAGO_ONLY)
        data = FixedChargeFields.from_validated(
            validate_input(catalog_serializers.FixedChargeInput, payload, partial=True)
        )
        fixed, units = subscription_fixed_charge_update(
            self.organization,
            external_id=external_id,
            code=fixed_charge_code,
            data=data,
            status=filters.charges_subscription_status(request),
        )
        return Response({"fixed_charge": Output(fixed, context={"units": {fixed.id: units}}).data})
