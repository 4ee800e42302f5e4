"""Reads for customers. The organization always comes first."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from billing_project.core.errors import NotFoundFailure
from billing_project.core.lookup import by_id_or_unique_name
from customers import hooks
from customers.models import Customer, Organization


def customer_get(organization: Organization, external_id: str) -> Customer:
    customer = (
        Customer.objects.select_related("organization")
        .filter(organization=organization, external_id=external_id, deleted_at__isnull=True)
        .first()
    )
    if customer is None:
        raise NotFoundFailure("customer")
    return customer


def customer_list(
    organization: Organization,
    *,
    external_id: str | None = None,
    search_term: str | None = None,
    currencies: list[str] | None = None,
    countries: list[str] | None = None,
    states: list[str] | None = None,
    zipcodes: list[str] | None = None,
    customer_type: str | None = None,
    has_customer_type: bool | None = None,
    has_tax_identification_number: bool | None = None,
    metadata: dict[str, str] | None = None,
) -> QuerySet[Customer]:
    qs = Customer.objects.filter(organization=organization, deleted_at__isnull=True)
    if external_id:
        qs = qs.filter(external_id=external_id)
    if search_term:
        qs = qs.filter(
            Q(name__icontains=search_term)
            | Q(firstname__icontains=search_term)
            | Q(lastname__icontains=search_term)
            | Q(legal_name__icontains=search_term)
            | Q(external_id__icontains=search_term)
            | Q(email__icontains=search_term)
        )
    if currencies:
        qs = qs.filter(currency__in=currencies)
    if countries:
        qs = qs.filter(country__in=[c.upper() for c in countries])
    if states:
        qs = qs.filter(state__in=states)
    if zipcodes:
        qs = qs.filter(zipcode__in=zipcodes)
    if customer_type:
        qs = qs.filter(customer_type=customer_type)
    if has_customer_type is not None:
        qs = qs.exclude(customer_type="") if has_customer_type else qs.filter(customer_type="")
    if has_tax_identification_number is not None:
        if has_tax_identification_number:
            qs = qs.exclude(tax_identification_number="")
        else:
            qs = qs.filter(tax_identification_number="")
    for key, value in (metadata or {}).items():
        qs = qs.filter(metadata__key=key, metadata__value=value)
    return (
        qs.select_related("organization")
        .prefetch_related(*hooks.representation_prefetches())
        .order_by("-created_at", "id")
    )


def organization_find(ref: str) -> Organization:
    """An organization for an ops command: by id, else by its exact name when exactly one
    organization has it. Raises LookupError naming the problem (unknown; several namesakes, each
    listed with its id)."""
    return by_id_or_unique_name(Organization, ref)
