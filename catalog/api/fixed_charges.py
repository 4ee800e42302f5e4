"""`/plans/{code}/fixed_charges[/{fixed_charge_code}]`: a plan's fixed charges (docs/catalog.md)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.filters import PageFilters
from billing_project.core.api.pagination import meta_for
from billing_project.core.api.resources import endpoint
from billing_project.core.api.views import OrganizationAPIView, root_payload, validate_input
from catalog import selectors, services
from catalog.api import serializers as s
from catalog.inputs import FixedChargeFields


def _body(fixed_charge: Any) -> dict[str, Any]:
    return {"fixed_charge": s.FixedChargeOutput(fixed_charge).data}


def _input(request: Request, *, partial: bool) -> FixedChargeFields:
    payload = root_payload(request, "fixed_charge")
    return FixedChargeFields.from_validated(validate_input(s.FixedChargeInput, payload, partial=partial))


class PlanFixedChargeCollectionView(OrganizationAPIView):
    resource_name = "plan"

    @endpoint(
        "plan_fixed_charges_list",
        s.FixedChargeListEnvelope,
        parameters=PageFilters.schema_parameters(),
        tags=["Plans"],
    )
    def get(self, request: Request, code: str) -> Response:
        items = selectors.plan_fixed_charges(selectors.plan_get(self.organization, code))
        return Response(
            {
                "fixed_charges": s.FixedChargeOutput(items, many=True).data,
                "meta": meta_for(len(items), 1, len(items) or 1),  # every fixed charge on one page
            }
        )

    @endpoint("plan_fixed_charges_create", s.FixedChargeEnvelope, request=s.FixedChargeInputEnvelope, tags=["Plans"])
    def post(self, request: Request, code: str) -> Response:
        created = services.plan_fixed_charge_create(
            self.organization, plan_code=code, data=_input(request, partial=False)
        )
        return Response(_body(selectors.plan_fixed_charge_get(self.organization, code, created.code)))


class PlanFixedChargeDetailView(OrganizationAPIView):
    resource_name = "plan"

    @endpoint("plan_fixed_charges_retrieve", s.FixedChargeEnvelope, tags=["Plans"])
    def get(self, request: Request, code: str, fixed_charge_code: str) -> Response:
        return Response(_body(selectors.plan_fixed_charge_get(self.organization, code, fixed_charge_code)))

    @endpoint("plan_fixed_charges_update", s.FixedChargeEnvelope, request=s.FixedChargeInputEnvelope, tags=["Plans"])
    def put(self, request: Request, code: str, fixed_charge_code: str) -> Response:
        updated = services.plan_fixed_charge_update(
            self.organization, plan_code=code, code=fixed_charge_code, data=_input(request, partial=True)
        )
        return Response(_body(selectors.plan_fixed_charge_get(self.organization, code, updated.code)))

    @endpoint("plan_fixed_charges_destroy", s.FixedChargeEnvelope, tags=["Plans"])
    def delete(self, request: Request, code: str, fixed_charge_code: str) -> Response:
        body = request.data.get("fixed_charge") if isinstance(request.data, dict) else None
        cascade = isinstance(body, dict) and body.get("cascade_updates") is True
        deleted = services.plan_fixed_charge_delete(
            self.organization, plan_code=code, code=fixed_charge_code, cascade_updates=cascade
        )
        return Response(_body(deleted))
