"""The payment provider interface. A provider is one module implementing `PaymentProvider`;
register it in `payments/providers/__init__.py` (adding Adyen = one module + its tests).

Providers know nothing of our models beyond the connection they are built with: services pass
plain values in and get plain values back. Every call that moves money takes an idempotency key
derived from our own row id, so a retried call replays at the provider instead of charging twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ProviderError(Exception):
    """The provider refused for good (bad request, configuration). Retrying the same call won't help."""

    def __init__(self, message: str, code: str = "provider_error"):
        super().__init__(message)
        self.code = code


class TransientProviderError(Exception):
    """Network error, timeout or 5xx after the SDK's own retries: the outcome is unknown. Retry the
    same call with the same idempotency key later."""


class WebhookSignatureError(Exception):
    """The inbound webhook is not signed by the provider (forged, tampered with, or stale)."""


@dataclass(frozen=True)
class ChargeRequest:
    """One charge asked of a provider: the amount in our minor units (each provider converts it),
    our idempotency key (the provider's, so a retried charge is one charge), the
    metadata (`bxb_*` ids) the statement description and the saved method to charge."""

    amount_cents: int
    currency: str
    provider_customer_id: str
    idempotency_key: str
    metadata: dict[str, str]
    description: str
    payment_method_id: str = ""  # empty for a hosted payment page (`payment_url`)


@dataclass
class ChargeResult:
    """The provider's answer to a charge, in our vocabulary (payments.models.PaymentStatus)."""

    status: str  # succeeded | processing | requires_action | failed | canceled
    provider_payment_id: str = ""
    error_code: str = ""
    error_message: str = ""
    next_action_url: str = ""


@dataclass
class RefundResult:
    status: str  # pending | succeeded | failed
    provider_refund_id: str = ""
    error_message: str = ""


@dataclass
class InboundEvent:
    id: str
    type: str
    data: dict[str, Any]  # the event's object
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class PaymentUpdate:
    """A webhook's news about one of our payments: found by our id (`payment_id`, sent to the
    provider as reference or metadata) or else by the provider's id in `result`."""

    payment_id: str
    result: ChargeResult


@dataclass
class RefundUpdate:
    refund_id: str
    result: RefundResult


@dataclass
class MethodSaved:
    """A payment method the customer saved at the provider (card token, direct-debit mandate)."""

    provider_customer_id: str
    provider_method_id: str
    method_type: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class MethodRemoved:
    provider_method_id: str


@dataclass
class DisputeUpdate:
    provider_payment_id: str
    status: str
    lost: bool = False


ProviderUpdate = PaymentUpdate | RefundUpdate | MethodSaved | MethodRemoved | DisputeUpdate


class PaymentProvider:
    name = "base"
    # Whether invoices are charged automatically after finalization (manual: never).
    collects_automatically = False

    def __init__(self, connection: Any):
        self.connection = connection

    def create_customer(self, *, name: str, email: str, external_id: str, idempotency_key: str) -> str:
        raise ProviderError(f"{self.name} does not create customers", "not_supported")

    def checkout_setup_url(
        self, *, provider_customer_id: str, method_types: list[str], success_url: str, currency: str = ""
    ) -> str:
        """A hosted page where the customer saves a method (`currency`: the customer's, for
        providers whose zero-amount verification needs one)."""
        raise ProviderError(f"{self.name} has no checkout", "not_supported")

    def default_payment_method(self, *, provider_customer_id: str) -> str | None:
        return None

    def setup_payment_method(self, *, setup_intent_id: str) -> tuple[str, str] | None:
        """(payment method id, type) saved by a completed setup, or None."""
        return None

    def charge(self, request: ChargeRequest) -> ChargeResult:
        raise ProviderError(f"{self.name} cannot charge", "not_supported")

    def cancel(self, *, provider_payment_id: str) -> None:
        return None

    def retrieve(self, *, provider_payment_id: str) -> ChargeResult:
        """The payment's current state at the provider (reconciliation when a webhook was lost)."""
        raise ProviderError(f"{self.name} cannot look payments up", "not_supported")

    def payment_url(self, request: ChargeRequest, *, success_url: str) -> str:
        """A hosted page where the customer pays `request` (no saved method: `payment_method_id` is empty)."""
        raise ProviderError(f"{self.name} has no payment page", "not_supported")

    def refund(
        self, *, provider_payment_id: str, amount_cents: int, currency: str, idempotency_key: str, metadata: dict
    ) -> RefundResult:
        raise ProviderError(f"{self.name} cannot refund", "not_supported")

    def parse_webhook(self, *, body: bytes, headers: dict[str, str]) -> InboundEvent:
        raise WebhookSignatureError(f"{self.name} sends no webhooks")

    def parse_webhook_events(self, *, body: bytes, headers: dict[str, str]) -> list[InboundEvent]:
        """Every event of one delivery (Adyen and GoCardless batch several), each verified."""
        return [self.parse_webhook(body=body, headers=headers)]

    # The body the provider expects in the answer to a delivery (None: our JSON acknowledgement).
    webhook_ack: str | None = None

    def event_updates(self, event: InboundEvent) -> list[ProviderUpdate] | None:
        """What a stored event means for our records, in the provider-neutral vocabulary above.
        None: the provider's events are Stripe-shaped and handled by `payments.services.events`'
        handlers by type (Stripe). An empty list: nothing to do (the event is ignored)."""
        return None
