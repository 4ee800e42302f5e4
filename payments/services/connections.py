"""Provider connections (credentials per organization) and the customer ↔ provider link."""

from __future__ import annotations

from typing import Any

from billing_project.core.errors import ValidationFailure
from billing_project.core.found import found
from billing_project.core.models import save_unique
from customers.models import Organization
from payments import crypto
from payments.models import PaymentProviderConnection, ProviderName

# The environments a connection may name (empty: the provider's test environment).
ENVIRONMENTS: dict[str, tuple[str, ...]] = {
    ProviderName.ADYEN: ("test", "live"),
    ProviderName.GOCARDLESS: ("sandbox", "live"),
}


def connection_create(
    organization: Organization,
    *,
    code: str,
    provider: str,
    name: str = "",
    secret_key: str = "",
    webhook_secret: str = "",
    success_redirect_url: str = "",
    merchant_account: str = "",
    live_prefix: str = "",
    environment: str = "",
) -> PaymentProviderConnection:
    errors: dict[str, list[str]] = {}
    if not code:
        errors["code"] = ["value_is_mandatory"]
    if provider not in ProviderName.values:
        errors["provider"] = ["value_is_invalid"]
    if provider != ProviderName.MANUAL and not secret_key:
        errors["secret_key"] = ["value_is_mandatory"]
    if provider == ProviderName.ADYEN and not merchant_account:
        errors["merchant_account"] = ["value_is_mandatory"]
    if environment and environment not in ENVIRONMENTS.get(provider, ()):
        errors["environment"] = ["value_is_invalid"]
    if errors:
        raise ValidationFailure(errors)
    connection = PaymentProviderConnection(
        organization=organization,
        code=code,
        provider=provider,
        name=name,
        secret_key_encrypted=crypto.encrypt(secret_key),
        webhook_secret_encrypted=crypto.encrypt(webhook_secret),
        success_redirect_url=success_redirect_url,
        merchant_account=merchant_account,
        live_prefix=live_prefix,
        environment=environment,
    )
    save_unique(connection, force_insert=True)
    return connection


def connection_set_secrets(
    connection: PaymentProviderConnection, *, secret_key: str | None = None, webhook_secret: str | None = None
) -> PaymentProviderConnection:
    """Replace secrets that are given (non-empty); the others stay as they are."""
    fields = ["updated_at"]
    if secret_key:
        connection.secret_key_encrypted = crypto.encrypt(secret_key)
        fields.append("secret_key_encrypted")
    if webhook_secret:
        connection.webhook_secret_encrypted = crypto.encrypt(webhook_secret)
        fields.append("webhook_secret_encrypted")
    connection.save(update_fields=fields)
    return connection


def connection_for_customer(customer: Any) -> PaymentProviderConnection | None:
    """The connection a customer pays through: `payment_provider_code` when set, else the
    organization's only connection of the customer's `payment_provider`."""
    provider = customer.payment_provider
    if not provider:
        return None
    qs = PaymentProviderConnection.objects.filter(organization_id=customer.organization_id, provider=provider)
    if customer.payment_provider_code:
        return qs.filter(code=customer.payment_provider_code).first()
    candidates = list(qs[:2])
    return candidates[0] if len(candidates) == 1 else None


def connection_get(organization: Organization, code: str) -> PaymentProviderConnection:
    return found(
        PaymentProviderConnection.objects.filter(organization=organization, code=code).first(),
        "payment_provider",
    )
