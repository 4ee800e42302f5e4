"""Customers and organization endpoints. Views parse, call a service, and render."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.filters import METADATA_PARAMETER, metadata_filters
from billing_project.core.api.pagination import paginated_response, prepared_page_response
from billing_project.core.api.resources import endpoint
from billing_project.core.api.views import OrganizationAPIView, root_payload, validate_input
from customers import entities, selectors, services
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

_PAGE = ("page", "per_page")


def customer_body(customer: Any) -> dict[str, Any]:
    return {"customer": customer_payload(customer)}


class CustomerCollectionView(OrganizationAPIView):
    @endpoint(
        "customers_list",
        CustomerListEnvelope,
        parameters=[*filters.CustomerFilters.schema_parameters(), METADATA_PARAMETER],
    )
    def get(self, request: Request) -> Response:
        """List customers"""
        params = filters.CustomerFilters.parse(request)
        metadata = metadata_filters(request)
        if not metadata and all(value in (None, []) for name, value in params.items() if name not in _PAGE):
            return prepared_page_response(
                request, selectors.CUSTOMER_PAGES, "customers", self._render_page, organization=self.organization.pk
            )
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
            metadata=metadata,
            billing_entity_ids=entities.billing_entity_ids(self.organization, params["billing_entity_codes"]),
        )
        return paginated_response(request, qs, "customers", self._render_page)

    def _render_page(self, items: Iterable[Any]) -> list[Any]:
        customers = list(items)
        related = selectors.representation_related(self.organization, customers)
        return [customer_payload(customer, related=related[customer.pk]) for customer in customers]

    @endpoint("customers_upsert", CustomerEnvelope, request=CustomerInputEnvelope)
    def post(self, request: Request) -> Response:
        """Create or update a customer (upsert by external_id)"""
        data = validate_input(
            CustomerInput, root_payload(request, "customer", lago_only=CUSTOMER_LAGO_ONLY), partial=False
        )
        _, document = services.customer_upsert_represented(self.organization, CustomerUpsert.from_validated(data))
        return Response({"customer": document})


class CustomerDetailView(OrganizationAPIView):
    @endpoint("customers_retrieve", CustomerEnvelope)
    def get(self, request: Request, external_id: str) -> Response:
        """Find a customer"""
        customer, related = selectors.customer_represented(self.organization, external_id)
        sections = entities.customer_sections(customer)  # nothing read without sections (its flags)
        return Response({"customer": customer_payload(customer, related=related, sections=sections)})

    @endpoint("customers_destroy", CustomerEnvelope)
    def delete(self, request: Request, external_id: str) -> Response:
        """Delete a customer"""
        customer = services.customer_delete(self.organization, external_id)
        return Response(customer_body(customer))


class OrganizationView(OrganizationAPIView):
    @endpoint("organizations_retrieve", OrganizationEnvelope)
    def get(self, request: Request) -> Response:
        """The calling organization"""
        return Response({"organization": OrganizationOutput(self.organization).data})

    @endpoint("organizations_update", OrganizationEnvelope, request=OrganizationInputEnvelope)
    def put(self, request: Request) -> Response:
        """Update the calling organization"""
        data = validate_input(
            OrganizationInput, root_payload(request, "organization", lago_only=ORGANIZATION_LAGO_ONLY), partial=True
        )
        organization = services.organization_update(self.organization, OrganizationUpdate.from_validated(data))
        return Response({"organization": OrganizationOutput(organization).data})
