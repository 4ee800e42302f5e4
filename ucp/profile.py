"""The business profile an organization publishes at `<public_base_url>/.well-known/ucp`."""

from __future__ import annotations

from typing import Any

from ucp import protocol
from ucp.models import UcpSettings
from ucp.services.setup import default_namespace, published_retired_keys, signing_key
from ucp.signing import public_jwk


def namespace(settings: UcpSettings) -> str:
    return settings.namespace or default_namespace(settings.public_base_url)


def payment_handlers(settings: UcpSettings) -> dict[str, list[dict[str, Any]]]:
    """The payment handlers backed by the organization's payment connection (docs/ucp.md, Payments):
    a Stripe connection takes card payment methods tokenized with Stripe (`pm_...`); the manual
    provider places the order and leaves the invoice to be paid out of band."""
    connection = settings.payment_connection
    if connection is None:
        return {}
    base = settings.public_base_url
    ns = namespace(settings)
    if connection.provider == "stripe":
        name, instruments, config = (
            f"{ns}.stripe_tokenizer",
            [{"type": "card"}],
            {"provider": "stripe", "credential_type": "stripe_payment_method"},
        )
    else:
        name, instruments, config = f"{ns}.pay_by_invoice", [{"type": "invoice"}], {"provider": "manual"}
    return {
        name: [
            {
                "id": connection.code,
                "version": protocol.VERSION,
                "spec": f"{base}/payment-handlers/{connection.code}",
                "schema": f"{base}/payment-handlers/{connection.code}/schema.json",
                "available_instruments": instruments,
                "config": config,
            }
        ]
    }


def business_profile(settings: UcpSettings) -> dict[str, Any]:
    key, kid = signing_key(settings)
    return {
        "ucp": {
            "version": protocol.VERSION,
            "services": {protocol.SHOPPING_SERVICE: [protocol.rest_service(settings.public_base_url)]},
            "capabilities": {c.name: [c.declaration()] for c in protocol.CAPABILITIES},
            "payment_handlers": payment_handlers(settings),
        },
        "signing_keys": [
            public_jwk(key, kid),
            *({k: v for k, v in jwk.items() if k != "retired_at"} for jwk in published_retired_keys(settings)),
        ],
    }
