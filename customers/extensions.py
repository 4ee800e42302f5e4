"""Extension points that apps below `customers` fill in at start-up (AppConfig.ready()).

`customers` may not import `catalog` or `invoicing`, yet a customer upsert carries `tax_codes`
(catalog's taxes) and the currency of a customer with invoices must not change (invoicing's
history). Lower apps register small hooks here; customers calls them without importing them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from customers.models import Customer, Organization


@dataclass
class CustomerExtension:
    """One app's part in customer upserts and representation.

    validate(organization, customer_or_None, payload) -> {field: [codes]}  (raise NotFoundFailure for unknown codes)
    apply(customer, payload) -> None                                      (inside the upsert transaction;
                                                                           `created_by_upsert(customer)` tells
                                                                           whether the upsert just inserted it)
    represent(customer) -> dict merged into the API representation
    locked_read_annotations() -> {name: expression} added to the upsert's locked read of an existing
                                 customer (e.g. an `Exists` of the app's rows), for `apply` to read
    billed_currencies(customer) -> set of currencies used by the customer's billing history
    """

    name: str
    validate: Callable[[Organization, Customer | None, dict[str, Any]], dict[str, list[str]]] | None = None
    apply: Callable[[Customer, dict[str, Any]], None] | None = None
    represent: Callable[[Customer], dict[str, Any]] | None = None
    billed_currencies: Callable[[Customer], set[str]] | None = None
    locked_read_annotations: Callable[[], dict[str, Any]] | None = None
    # Relations `represent` reads, so customer lists can prefetch them instead of N+1 queries.
    prefetch: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


_registry: dict[str, CustomerExtension] = {}


def register(extension: CustomerExtension) -> None:
    _registry[extension.name] = extension


def all_extensions() -> list[CustomerExtension]:
    return list(_registry.values())


def representation_prefetches(prefix: str = "") -> list[str]:
    """Every relation the customer representation reads (metadata and the extensions' own).

    `prefix` targets a customer reached through a relation, e.g. `"customer__"` for invoices.
    """
    lookups = ["metadata"]
    for extension in _registry.values():
        lookups.extend(extension.prefetch)
    return [f"{prefix}{lookup}" for lookup in lookups]


_CREATED_ATTR = "_created_by_upsert"


def mark_created(customer: Customer) -> None:
    """Set by `customer_upsert` on a customer it has just inserted, before calling the `apply` hooks."""
    customer.__dict__[_CREATED_ATTR] = True


def created_by_upsert(customer: Customer) -> bool:
    """True for a customer `customer_upsert` inserted in this call: it has no related rows but those
    the upsert's own hooks write, so an `apply` hook that writes none may tell the representation
    there is nothing to read (e.g. an empty prefetch cache) instead of letting it query."""
    return bool(customer.__dict__.get(_CREATED_ATTR))
