"""Payment providers by name. `provider_for(connection)` builds the one a connection uses."""

from __future__ import annotations

from typing import Any

from payments.providers.adyen import AdyenProvider
from payments.providers.base import (
    ChargeRequest,
    ChargeResult,
    DisputeUpdate,
    InboundEvent,
    MethodRemoved,
    MethodSaved,
    PaymentProvider,
    PaymentUpdate,
    ProviderError,
    ProviderUpdate,
    RefundResult,
    RefundUpdate,
    TransientProviderError,
    WebhookSignatureError,
)
from payments.providers.gocardless import GoCardlessProvider
from payments.providers.manual import ManualProvider
from payments.providers.stripe import StripeProvider

PROVIDERS: dict[str, type[PaymentProvider]] = {
    ManualProvider.name: ManualProvider,
    StripeProvider.name: StripeProvider,
    AdyenProvider.name: AdyenProvider,
    GoCardlessProvider.name: GoCardlessProvider,
}


def provider_for(connection: Any) -> PaymentProvider:
    try:
        cls = PROVIDERS[connection.provider]
    except KeyError:
        raise ProviderError(f"unknown provider {connection.provider!r}", "unknown_provider") from None
    return cls(connection)


__all__ = [
    "PROVIDERS",
    "ChargeRequest",
    "ChargeResult",
    "DisputeUpdate",
    "InboundEvent",
    "MethodRemoved",
    "MethodSaved",
    "PaymentProvider",
    "PaymentUpdate",
    "ProviderError",
    "ProviderUpdate",
    "RefundResult",
    "RefundUpdate",
    "TransientProviderError",
    "WebhookSignatureError",
    "provider_for",
]
