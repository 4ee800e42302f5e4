"""Customers and organization endpoints. Views parse, call a service, and render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.filters import METADATA_PARAMETER, metadata_filters
from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.views import OrganizationAPIView, root_payload, validate_input
from customers import selectors, services
from customers.api import filters
from customers.api.serializers import (
    CUSTOMER_LAGO_ONLY,
    ORGANIZATION_LAGO_ONLY,
    CustomerEnvelope,
    CustomerInput,
    CustomerInputEnvelope,
    CustomerListEnvelope,
    OrganizationEnvelope,
    OrganizationInput,
    OrganizationInputEnvelope,
    OrganizationOutput,
)
from customers.inputs import CustomerUpsert, OrganizationUpdate
from customers.representation import customer_payload


def customer_body(customer: Any) -> dict[str, Any]:
    return {"customer": customer_payload(customer)}


class CustomerCollectionView(OrganizationAPIView):
    @extend_schema(
        operation_id="customers_list",
        summary="List customers",
        parameters=[*filters.CustomerFilters.schema_parameters(), METADATA_PARAMETER],
        responses=CustomerListEnvelope,
    )
    def get(self, request: Request) -> Response:
        params = filters.CustomerFilters.parse(request)
        qs = selectors.customer_list(
            self.organization,
            external_id=params["external_id"],
            search_term=params["search_term"],
            currencies=params["currencies"],
            countries=params["countries"],
            states=params["states"],
            zipcodes=params["zipcodes"],
            customer_type=params["customer_type"],
            has_customer_type=params["has_customer_type"],
            has_tax_identification_number=params["has_tax_identification_number"],
            metadata=metadata_filters(request),
        )
        return paginated_response(request, qs, "customers", lambda items: [customer_payload(c) for c in items])

    @extend_schema(
        operation_id="customers_upsert",
        summary="Create or update a customer (upsert by external_id)",
        request=CustomerInputEnvelope,
        responses=CustomerEnvelope,
    )
    def post(self, request: Request) -> Response:
        data = validate_input(
            CustomerInput, root_payload(request, "customer", lago_only=CUSTOMER_LAGO_ONLY), partial=False
        )
        _, document = services.customer_upsert_represented(self.organization, CustomerUpsert.from_validated(data))
        return Response({"customer": document})


class CustomerDetailView(OrganizationAPIView):
    @extend_schema(operation_id="customers_retrieve", summary="Find a customer", responses=CustomerEnvelope)
    def get(self, request: Request, external_id: str) -> Response:
        return Response(customer_body(selectors.customer_get(self.organization, external_id)))

    @extend_schema(operation_id="customers_destroy", summary="Delete a customer", responses=CustomerEnvelope)
    def delete(self, request: Request, external_id: str) -> Response:
        customer = services.customer_delete(self.organization, external_id)
        return Response(customer_body(customer))


class OrganizationView(OrganizationAPIView):
    @extend_schema(
        operation_id="organizations_retrieve", summary="The calling organization", responses=OrganizationEnvelope
    )
    def get(self, request: Request) -> Response:
        return Response({"organization": OrganizationOutput(self.organization).data})

    @extend_schema(
        operation_id="organizations_update",
        summary="Update the calling organization",
        request=OrganizationInputEnvelope,
        responses=OrganizationEnvelope,
    )
    def put(self, request: Request) -> Response:
        data = validate_input(
            OrganizationInput, root_payload(request, "organization", lago_only=ORGANIZATION_LAGO_ONLY), partial=True
        )
        organization = services.organization_update(self.organization, OrganizationUpdate.from_validated(data))
        return Response({"organization": OrganizationOutput(organization).data})
