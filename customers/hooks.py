"""What `customers` asks of the apps above it, without importing them (billing_project/core/hooks.py).

A customer upsert carries `tax_codes` (catalog's taxes) and the currency of a customer with a
billing history must not change (subscriptions' and invoicing's rows); a `payment_method` chosen
for a subscription, an invoice or a wallet must be one of the customer's saved methods (payments'
rows). Each question is one typed
hook, filled once by the app named below in its `AppConfig.ready()`; `CustomersConfig.ready()`
registers the start-up check (`customers.E001`) that all are filled. Work a higher app does after
an upsert (payments creating the provider customer) is a signal instead (`customers/signals.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from uuid import UUID

from billing_project.core.hooks import Hook

if TYPE_CHECKING:
    from customers.models import BillingEntity, Customer, Organization


@runtime_checkable
class CustomerTaxes(Protocol):
    """The customer's own taxes: `tax_codes` of an upsert, `taxes` of the representation.

    `tax_codes` is None when the upsert does not send it (or sends null): the taxes stay.
    """

    # Relations `represent` reads, so customer lists prefetch them instead of N+1 queries.
    prefetch: tuple[str, ...]

    def locked_read_annotations(self) -> dict[str, Any]:
        """Annotations added to the upsert's locked read of an existing customer, for `apply`."""
        ...

    def validate(self, organization: Organization, tax_codes: list[str] | None) -> None:
        """Raise `NotFoundFailure` for an unknown code (before anything is written)."""
        ...

    def apply(self, customer: Customer, tax_codes: list[str] | None, *, created: bool) -> Mapping[str, Sequence[Any]]:
        """Inside the upsert's transaction, after the customer is saved (`created`: just inserted).
        Returns the rows of the relations `represent` reads that the call knows (`{"tax_links": []}`
        when the customer has no taxes), for `customers.representation.customer_payload(related=)`."""
        ...

    def represent(
        self, customer: Customer, *, related: Mapping[str, Sequence[Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The `taxes` list of the customer's API representation (`related`: rows read beforehand,
        by relation name, as `customer_payload` takes them)."""
        ...


@runtime_checkable
class CustomerPaymentMethods(Protocol):
    """The customer's saved payment methods (payments' `PaymentMethod`), for the `payment_method`
    choice of subscriptions, one-off invoices and wallets (`customers.payment_choice`)."""

    def owns(self, customer: Customer, method_id: UUID) -> bool:
        """True when `method_id` is one of this customer's saved methods (of its organization)."""
        ...

    def labels(self, organization_id: Any, method_ids: Iterable[UUID]) -> dict[UUID, str]:
        """A short label of each method found ("stripe card visa ••4242"), for the admin."""
        ...


@runtime_checkable
class BillingEntityTaxes(Protocol):
    """A billing entity's default taxes: `tax_codes` of `PUT /billing_entities/{code}`, `taxes`
    of its representation."""

    def validate(self, organization: Organization, tax_codes: list[str]) -> None:
        """Raise `NotFoundFailure` for an unknown code (before anything is written)."""
        ...

    def apply(self, entity: BillingEntity, tax_codes: list[str]) -> None:
        """Replace the entity's default taxes (inside the update's transaction)."""
        ...

    def represent(self, entity: BillingEntity) -> list[dict[str, Any]]:
        """The `taxes` list of the entity's representation (Lago's tax objects)."""
        ...


customer_taxes: Hook[CustomerTaxes] = Hook("customers.customer_taxes", CustomerTaxes, filled_by="catalog")
customer_payment_methods: Hook[CustomerPaymentMethods] = Hook(
    "customers.customer_payment_methods", CustomerPaymentMethods, filled_by="payments"
)

billing_entity_taxes: Hook[BillingEntityTaxes] = Hook(
    "customers.billing_entity_taxes", BillingEntityTaxes, filled_by="catalog"
)

ALL = (customer_taxes, customer_payment_methods, billing_entity_taxes)


# The customer's forward relations its representation reads (`billing_entity_code`): joined with
# `select_related` where customers are read for a page, or `prefetch_related_objects`.
REPRESENTATION_RELATED = ("billing_entity",)

# What the representation never prints of those relations (it prints the entity's `code` only):
# the entity's logo (a base64 data URI of up to ~800 KB), invoice footer and e-mail settings (a
# JSON column) are left out of the customer reads that render it (`QuerySet.defer`); code that
# reads them from such a customer gets them from the database on access, as Django defers.
REPRESENTATION_DEFERRED = ("billing_entity__logo", "billing_entity__invoice_footer", "billing_entity__email_settings")


def representation_deferred(prefix: str = "") -> list[str]:
    """`REPRESENTATION_DEFERRED` for a customer reached through a relation (`"customer__"`)."""
    return [f"{prefix}{name}" for name in REPRESENTATION_DEFERRED]


def representation_prefetches(prefix: str = "") -> list[str]:
    """Every relation the customer representation reads (metadata and the taxes).

    `prefix` targets a customer reached through a relation, e.g. `"customer__"` for invoices.
    """
    lookups = ["metadata", *customer_taxes.get().prefetch]
    return [f"{prefix}{lookup}" for lookup in lookups]
