"""Stripe, through the official SDK (the only module that imports `stripe`).

* Amounts: our `*_amount_cents` are in the currency's ISO minor unit (`money.exponent`); Stripe
  mostly uses the same unit (JPY 1500 → `amount=1500`), except ISK and UGX, which Stripe still
  takes with two decimals, and the three-decimal currencies, whose last digit must be 0.
  `stripe_amount()` converts exactly or refuses; it never rounds.
* Every mutating request carries our idempotency key; the SDK retries network errors, timeouts
  and 5xx itself (`STRIPE_MAX_NETWORK_RETRIES`) with the same key, and whatever still fails is a
  `TransientProviderError` that our task retries, again with the same key.
* `STRIPE_API_BASE` (settings) points the SDK elsewhere (the test suite's fake Stripe server).
"""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings

from billing_project.core import money
from payments.providers.base import (
    ChargeRequest,
    ChargeResult,
    InboundEvent,
    PaymentProvider,
    ProviderError,
    RefundResult,
    TransientProviderError,
    WebhookSignatureError,
)

# Currencies whose unit at Stripe differs from ISO 4217's minor unit.
_STRIPE_EXPONENT = {"ISK": 2, "UGX": 2}
_THREE_DECIMALS_ROUNDED = {"BHD", "JOD", "KWD", "OMR", "TND"}

_STATUS = {
    "succeeded": "succeeded",
    "processing": "processing",
    "requires_action": "requires_action",
    "requires_confirmation": "requires_action",
    "requires_capture": "processing",
    "requires_payment_method": "failed",  # a declined confirmation: never left "processing"
    "canceled": "canceled",
}


def stripe_amount(amount_cents: int, currency: str) -> int:
    code = currency.upper()
    ours = money.exponent(code)
    theirs = _STRIPE_EXPONENT.get(code, ours)
    amount = int(amount_cents) * 10 ** (theirs - ours) if theirs >= ours else None
    if amount is None or (code in _THREE_DECIMALS_ROUNDED and amount % 10):
        raise ProviderError(f"{amount_cents} {code} cannot be charged exactly at Stripe", "amount_not_supported")
    return amount


def from_stripe_amount(amount: int, currency: str) -> int:
    code = currency.upper()
    ours = money.exponent(code)
    theirs = _STRIPE_EXPONENT.get(code, ours)
    return int(amount) // 10 ** (theirs - ours)


def charge_result(intent: dict[str, Any]) -> ChargeResult:
    status = _STATUS.get(intent.get("status") or "", "processing")
    error = intent.get("last_payment_error") or {}
    next_action = intent.get("next_action") or {}
    url = ((next_action.get("redirect_to_url") or {}).get("url")) or ""
    return ChargeResult(
        status=status,
        provider_payment_id=intent.get("id") or "",
        error_code=(error.get("decline_code") or error.get("code") or "") if status in ("failed", "canceled") else "",
        error_message=(error.get("message") or "") if status in ("failed", "canceled") else "",
        next_action_url=url,
    )


class StripeProvider(PaymentProvider):
    name = "stripe"
    collects_automatically = True

    def _client(self) -> stripe.StripeClient:
        kwargs: dict[str, Any] = {
            "max_network_retries": int(getattr(settings, "STRIPE_MAX_NETWORK_RETRIES", 2)),
            "http_client": stripe.RequestsClient(timeout=float(getattr(settings, "STRIPE_TIMEOUT_SECONDS", 30))),
        }
        base = getattr(settings, "STRIPE_API_BASE", "") or ""
        if base:
            kwargs["base_addresses"] = {"api": base}
        return stripe.StripeClient(self.connection.secret_key, **kwargs)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(*args, **kwargs).to_dict()
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise TransientProviderError(str(exc)) from exc
        except stripe.APIError as exc:  # 5xx after the SDK's retries
            raise TransientProviderError(str(exc)) from exc
        except stripe.AuthenticationError as exc:
            raise ProviderError(str(exc.user_message or exc), "invalid_credentials") from exc
        except stripe.InvalidRequestError as exc:
            raise ProviderError(str(exc.user_message or exc), exc.code or "invalid_request") from exc

    def create_customer(self, *, name: str, email: str, external_id: str, idempotency_key: str) -> str:
        params: dict[str, Any] = {"name": name, "metadata": {"bxb_external_id": external_id}}
        if email:
            params["email"] = email.split(",")[0].strip()
        data = self._call(
            self._client().v1.customers.create, params=params, options={"idempotency_key": idempotency_key}
        )
        return data["id"]

    def checkout_setup_url(
        self, *, provider_customer_id: str, method_types: list[str], success_url: str, currency: str = ""
    ) -> str:
        params = {
            "mode": "setup",
            "customer": provider_customer_id,
            "payment_method_types": method_types or ["card"],
            "success_url": success_url,
            "currency": None,
        }
        params = {k: v for k, v in params.items() if v is not None}
        return self._call(self._client().v1.checkout.sessions.create, params=params)["url"]

    def default_payment_method(self, *, provider_customer_id: str) -> str | None:
        data = self._call(self._client().v1.customers.retrieve, provider_customer_id)
        method = (data.get("invoice_settings") or {}).get("default_payment_method")
        if isinstance(method, dict):
            method = method.get("id")
        return method or None

    def setup_payment_method(self, *, setup_intent_id: str) -> tuple[str, str] | None:
        data = self._call(self._client().v1.setup_intents.retrieve, setup_intent_id)
        method = data.get("payment_method")
        if isinstance(method, dict):
            return method.get("id"), method.get("type") or ""
        return (method, "") if method else None

    def charge(self, request: ChargeRequest) -> ChargeResult:
        params = {
            "amount": stripe_amount(request.amount_cents, request.currency),
            "currency": request.currency.lower(),
            "customer": request.provider_customer_id,
            "payment_method": request.payment_method_id,
            "off_session": True,
            "confirm": True,
            "metadata": request.metadata,
            "description": request.description,
        }
        try:
            intent = self._client().v1.payment_intents.create(
                params=params, options={"idempotency_key": request.idempotency_key}
            )
        except stripe.CardError as exc:  # declined: Stripe answers 402 with the PaymentIntent attached
            error = (exc.json_body or {}).get("error", {}) if isinstance(exc.json_body, dict) else {}
            intent_data = error.get("payment_intent") or {}
            return ChargeResult(
                status="failed",
                provider_payment_id=intent_data.get("id") or "",
                error_code=error.get("decline_code") or error.get("code") or "card_declined",
                error_message=error.get("message") or str(exc.user_message or exc),
            )
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise TransientProviderError(str(exc)) from exc
        except stripe.StripeError as exc:
            raise ProviderError(str(exc.user_message or exc), getattr(exc, "code", None) or "provider_error") from exc
        return charge_result(intent.to_dict())

    def cancel(self, *, provider_payment_id: str) -> None:
        self._call(self._client().v1.payment_intents.cancel, provider_payment_id)

    def retrieve(self, *, provider_payment_id: str) -> ChargeResult:
        return charge_result(self._call(self._client().v1.payment_intents.retrieve, provider_payment_id))

    def payment_url(self, request: ChargeRequest, *, success_url: str) -> str:
        params = {
            "mode": "payment",
            "customer": request.provider_customer_id,
            "success_url": success_url,
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": stripe_amount(request.amount_cents, request.currency),
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "payment_intent_data": {"metadata": request.metadata},
            "metadata": request.metadata,
        }
        data = self._call(
            self._client().v1.checkout.sessions.create,
            params=params,
            options={"idempotency_key": request.idempotency_key},
        )
        return data["url"]

    def refund(
        self, *, provider_payment_id: str, amount_cents: int, currency: str, idempotency_key: str, metadata: dict
    ) -> RefundResult:
        params = {
            "payment_intent": provider_payment_id,
            "amount": stripe_amount(amount_cents, currency),
            "metadata": metadata,
        }
        data = self._call(self._client().v1.refunds.create, params=params, options={"idempotency_key": idempotency_key})
        return refund_result(data)

    def parse_webhook(self, *, body: bytes, headers: dict[str, str]) -> InboundEvent:
        signature = headers.get("Stripe-Signature") or headers.get("stripe-signature")
        secret = self.connection.webhook_secret
        if not signature or not secret:
            raise WebhookSignatureError("missing signature or secret")
        try:
            event = stripe.Webhook.construct_event(body, signature, secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise WebhookSignatureError(str(exc)) from exc
        raw = event.to_dict()
        return InboundEvent(id=raw["id"], type=raw["type"], data=(raw.get("data") or {}).get("object") or {}, raw=raw)


def refund_result(data: dict[str, Any]) -> RefundResult:
    status = data.get("status")
    mapped = {"succeeded": "succeeded", "failed": "failed", "canceled": "failed"}.get(status or "", "pending")
    return RefundResult(
        status=mapped, provider_refund_id=data.get("id") or "", error_message=data.get("failure_reason") or ""
    )
