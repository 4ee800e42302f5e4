"""The customer at the provider: creation on `sync_with_provider`, checkout in setup mode, and
the payment methods the customer saves."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from django.db import IntegrityError, models, transaction

from billing_project.core.errors import NotFoundFailure, ProviderFailure, ValidationFailure
from customers.models import Customer, Organization
from payments.models import PaymentMethod, PaymentProviderConnection, ProviderName
from payments.providers import ProviderError, TransientProviderError, provider_for
from payments.services.connections import connection_for_customer

# Providers where bxb creates the customer (`sync_with_provider`) and where a hosted page saves a method.
SYNCED_PROVIDERS = (ProviderName.STRIPE, ProviderName.ADYEN, ProviderName.GOCARDLESS)


def wants_provider_customer(customer: Customer) -> bool:
    settings = customer.provider_settings or {}
    return (
        customer.payment_provider in SYNCED_PROVIDERS
        and bool(settings.get("sync_with_provider"))
        and not customer.provider_customer_id
    )


def provider_customer_ensure(customer_id: UUID | str) -> Customer:
    """Create the customer at its provider once (the idempotency key is derived from our id, so
    two workers or a retried task get the same provider customer)."""
    customer = Customer.objects.select_related("organization").get(id=customer_id)
    if customer.provider_customer_id:
        return customer
    connection = connection_for_customer(customer)
    if connection is None:
        raise ValidationFailure.single("base", "no_linked_payment_provider")
    try:
        provider_id = provider_for(connection).create_customer(
            name=customer.name or customer.external_id,
            email=customer.email,
            external_id=customer.external_id,
            idempotency_key=f"bxb_customer_{customer.id}",
        )
    except ProviderError as exc:
        raise ProviderFailure(connection.code, {"message": str(exc)}) from exc
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(id=customer_id)
        if not customer.provider_customer_id:
            customer.provider_customer_id = provider_id
            customer.save(update_fields=["provider_customer_id", "updated_at"])
    return customer


def customer_checkout_url(organization: Organization, *, external_id: str) -> tuple[Customer, str]:
    """`POST /customers/{external_id}/checkout_url`: a Checkout session in setup mode, where the
    customer saves a card or a SEPA mandate (`checkout.session.completed` stores it)."""
    customer = Customer.objects.filter(
        organization=organization, external_id=external_id, deleted_at__isnull=True
    ).first()
    if customer is None:
        raise NotFoundFailure("customer")
    connection = connection_for_customer(customer)
    if connection is None or connection.provider not in SYNCED_PROVIDERS:
        raise ValidationFailure.single("base", "invalid_payment_provider")
    if not customer.provider_customer_id:
        customer = provider_customer_ensure(customer.id)
    methods = (customer.provider_settings or {}).get("provider_payment_methods") or ["card"]
    try:
        url = provider_for(connection).checkout_setup_url(
            provider_customer_id=customer.provider_customer_id or "",
            method_types=list(methods),
            success_url=connection.success_redirect_url or "https://example.com/success",
            currency=customer.currency or "",
        )
    except (ProviderError, TransientProviderError) as exc:
        raise ProviderFailure(connection.code, {"message": str(exc)}) from exc
    return customer, url


def payment_method_save(
    connection: PaymentProviderConnection,
    *,
    provider_customer_id: str,
    provider_method_id: str,
    method_type: str = "",
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> PaymentMethod | None:
    """A method saved at the provider becomes the customer's default (the previous one stays,
    not default). Returns None when no customer of this connection has that provider id."""
    customer = Customer.objects.filter(
        organization_id=connection.organization_id, provider_customer_id=provider_customer_id
    ).first()
    if customer is None:
        return None
    with transaction.atomic():
        Customer.objects.select_for_update().get(id=customer.id)
        PaymentMethod.objects.filter(customer=customer, is_default=True).exclude(
            connection=connection, provider_method_id=provider_method_id
        ).update(is_default=False)
        method = PaymentMethod.objects.filter(
            customer=customer, connection=connection, provider_method_id=provider_method_id
        ).first()
        if method is None:
            try:
                with transaction.atomic():
                    method = PaymentMethod.objects.create(
                        organization_id=connection.organization_id,
                        customer=customer,
                        connection=connection,
                        provider_method_id=provider_method_id,
                        method_type=method_type,
                        details=details or {},
                        is_default=True,
                    )
            except IntegrityError:
                method = PaymentMethod.objects.get(
                    customer=customer, connection=connection, provider_method_id=provider_method_id
                )
        if not method.is_default:
            method.is_default = True
            method.save(update_fields=["is_default", "updated_at"])
    return method


def payment_methods_forget(connection: PaymentProviderConnection, *, provider_method_id: str) -> int:
    """The provider says a method is gone (mandate cancelled, token disabled): remove it. The
    customer's most recent remaining method of that connection becomes the default when the
    removed one was. Returns how many rows were removed."""
    removed = 0
    for method in PaymentMethod.objects.filter(connection=connection, provider_method_id=provider_method_id):
        with transaction.atomic():
            Customer.objects.select_for_update().get(id=method.customer_id)
            was_default = method.is_default
            method.delete()
            removed += 1
            if was_default:
                successor = PaymentMethod.objects.filter(customer_id=method.customer_id).order_by("-created_at").first()
                if successor is not None:
                    successor.is_default = True
                    successor.save(update_fields=["is_default", "updated_at"])
    return removed


def payment_method_set_default(organization: Organization, *, external_id: str, method_id: UUID | str) -> PaymentMethod:
    """`PUT /customers/{external_id}/payment_methods/{id}/set_as_default`: this method is the one
    collection charges; the customer's other methods are no longer default."""
    from payments import selectors

    method = selectors.customer_payment_method_get(organization, external_id=external_id, method_id=method_id)
    with transaction.atomic():
        Customer.objects.select_for_update().get(id=method.customer_id)
        PaymentMethod.objects.filter(customer_id=method.customer_id, is_default=True).exclude(id=method.id).update(
            is_default=False
        )
        if not method.is_default:
            method.is_default = True
            method.save(update_fields=["is_default", "updated_at"])
    return method


def payment_method_destroy(organization: Organization, *, external_id: str, method_id: UUID | str) -> PaymentMethod:
    """`DELETE /customers/{external_id}/payment_methods/{id}`: bxb stops using the method (as Lago,
    no other method is promoted to default; the provider keeps its own record). Returns the removed
    method as it was, `is_default` false."""
    from payments import selectors

    method = selectors.customer_payment_method_get(organization, external_id=external_id, method_id=method_id)
    with transaction.atomic():
        Customer.objects.select_for_update().get(id=method.customer_id)
        PaymentMethod.objects.filter(id=method.id).delete()
    method.is_default = False
    return method


def customer_unpaid_invoice_ids(customer_id: UUID | str) -> list[UUID]:
    from invoicing.models import Invoice, InvoiceStatus
    from invoicing.models import PaymentStatus as InvoicePaymentStatus

    return list(
        Invoice.objects.filter(
            customer_id=customer_id,
            status=InvoiceStatus.FINALIZED,
            payment_status__in=[InvoicePaymentStatus.PENDING, InvoicePaymentStatus.FAILED],
            total_amount_cents__gt=0,
        ).values_list("id", flat=True)
    )


def provider_customers_sync_pending(limit: int = 200) -> int:
    """Beat: customers asking for `sync_with_provider` whose creation at the provider failed
    earlier (provider down) are created now. Returns how many were created."""
    pending = Customer.objects.filter(
        payment_provider__in=SYNCED_PROVIDERS,
        provider_settings__sync_with_provider=True,
        deleted_at__isnull=True,
    ).filter(models.Q(provider_customer_id__isnull=True) | models.Q(provider_customer_id=""))
    created = 0
    for customer_id in list(pending.values_list("id", flat=True)[:limit]):
        try:
            if provider_customer_ensure(customer_id).provider_customer_id:
                created += 1
        except (ProviderFailure, ValidationFailure, TransientProviderError):
            continue
    return created
