"""Reads for customers. The organization always comes first."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, prefetch_related_objects

from billing_project.core.api.pagination import PreparedPages
from billing_project.core.errors import NotFoundFailure
from billing_project.core.found import found
from billing_project.core.lookup import by_id_or_unique_name
from billing_project.core.narrowing import narrowed, searched
from billing_project.core.prepared import PreparedQuery
from customers import hooks
from customers.entities import section_flags
from customers.models import Customer, Organization


def customer_get(organization: Organization, external_id: str) -> Customer:
    return found(
        Customer.objects.select_related("organization", *hooks.REPRESENTATION_RELATED)
        .filter(organization=organization, external_id=external_id, deleted_at__isnull=True)
        .first(),
        "customer",
    )


def representation_flags(customer_ref: str = "pk") -> dict[str, Exists]:
    """`has_rows_<relation>`: whether a customer has rows in each relation its representation
    reads (the first step of each `hooks.representation_prefetches()` lookup: `metadata`,
    `tax_links`), as `EXISTS` columns of the customer's own read, so that relations without rows
    (the usual case) are not read at all (`representation_related`). `customer_ref`: the column
    of the read holding the customer's id (a row naming a customer: `"customer_id"`)."""
    flags = {}
    for lookup in hooks.representation_prefetches():
        first = lookup.split("__")[0]
        relation = Customer._meta.get_field(first)
        rows = relation.related_model._default_manager.filter(**{relation.field.attname: OuterRef(customer_ref)})  # type: ignore[union-attr]
        flags[f"has_rows_{first}"] = Exists(rows)
    return flags


def representation_related(
    organization: Organization, customers: Sequence[Customer], flags: dict[Any, dict[str, bool]] | None = None
) -> dict[Any, dict[str, list[Any]]]:
    """What rendering these customers reads (`customers.representation.customer_payload(related=)`),
    by customer id: the rows of each relation of the representation, in one statement a relation
    for the customers whose `representation_flags()` say they have some (none otherwise): read on
    the customers, or given by customer id (`flags`, when a row naming the customer read them). Each
    customer gets its organization, the caller's (customers are read tenant-scoped), instead of a join per row."""
    related: dict[Any, dict[str, list[Any]]] = {customer.pk: {} for customer in customers}
    for customer in customers:
        customer.organization = organization

    def has_rows(customer: Customer, name: str) -> bool:
        if flags is not None and customer.pk in flags:
            return flags[customer.pk].get(name, True)
        return getattr(customer, name, True)

    for lookup in hooks.representation_prefetches():
        first, *rest = lookup.split("__")
        having = [customer for customer in customers if has_rows(customer, f"has_rows_{first}")]
        if having:
            # One statement a relation: what follows its first step (`tax_links__tax`) is joined.
            model = Customer._meta.get_field(first).related_model
            rows = model._default_manager.select_related("__".join(rest)) if rest else model._default_manager.all()  # type: ignore[union-attr]
            prefetch_related_objects(having, Prefetch(first, queryset=rows))
        for customer in customers:
            related[customer.pk][first] = []
        for customer in having:
            related[customer.pk][first] = list(getattr(customer, first).all())
    return related


# `customer_represented`'s statement, compiled once per process (`PreparedQuery`: SQL text, no rows);
# building and compiling it (five `EXISTS` subqueries) was most of `GET /customers/{id}`'s CPU.
_REPRESENTED = PreparedQuery(
    lambda p: (
        Customer.objects.filter(organization_id=p.organization, external_id=p.external_id, deleted_at__isnull=True)
        .select_related(*hooks.REPRESENTATION_RELATED)
        .defer(*hooks.REPRESENTATION_DEFERRED)
        .annotate(**representation_flags(), **section_flags())[:1]
    ),
    organization=uuid.UUID,
    external_id=str,
)


def customer_represented(organization: Organization, external_id: str) -> tuple[Customer, dict[str, list[Any]]]:
    """`customer_get` for the customer's API representation: the customer and the rows of its
    representation's relations (`representation_related`), in one statement when it has none
    (with its `section_flags`, for `customers.entities.customer_sections`)."""
    [customer] = _REPRESENTED.fetch(organization=organization.pk, external_id=external_id) or [None]
    if customer is None:
        raise NotFoundFailure("customer")
    return customer, representation_related(organization, [customer])[customer.pk]


def customer_list(
    organization: Organization | uuid.UUID,
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
    billing_entity_ids: list[Any] | None = None,
) -> QuerySet[Customer]:
    qs = narrowed(
        Customer.objects.filter(organization=organization, deleted_at__isnull=True),
        external_id=external_id,
        billing_entity_id__in=billing_entity_ids,
    )
    qs = searched(qs, search_term, "name", "firstname", "lastname", "legal_name", "external_id", "email")
    qs = narrowed(
        qs,
        currency__in=currencies,
        country__in=[c.upper() for c in countries or ()],
        state__in=states,
        zipcode__in=zipcodes,
        customer_type=customer_type,
    )
    if has_customer_type is not None:
        qs = qs.exclude(customer_type="") if has_customer_type else qs.filter(customer_type="")
    if has_tax_identification_number is not None:
        if has_tax_identification_number:
            qs = qs.exclude(tax_identification_number="")
        else:
            qs = qs.filter(tax_identification_number="")
    for key, value in (metadata or {}).items():
        qs = qs.filter(metadata__key=key, metadata__value=value)
    # Rows and their relation flags only: `representation_related` reads what a page renders.
    return (
        qs.select_related(*hooks.REPRESENTATION_RELATED)
        .defer(*hooks.REPRESENTATION_DEFERRED)
        .annotate(**representation_flags())
        .order_by("-created_at", "id")
    )


# The list without filters (what a client pages through, and `?per_page=1`), compiled once per
# page shape (`billing_project.core.api.pagination.PreparedPages`): the same queryset as
# `customer_list(organization)`, counted on its page.
CUSTOMER_PAGES = PreparedPages(lambda p: customer_list(p.organization), organization=uuid.UUID)


def organization_find(ref: str) -> Organization:
    """An organization for an ops command: by id, else by its exact name when exactly one
    organization has it. Raises LookupError naming the problem (unknown; several namesakes, each
    listed with its id)."""
    return by_id_or_unique_name(Organization, ref)
