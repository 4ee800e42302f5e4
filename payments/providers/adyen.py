"""Adyen, through the official SDK (`Adyen` on PyPI; the only module that imports it).

* Customers: Adyen has none; the shopper reference is our customer's `external_id`, which
  becomes `provider_customer_id`. Cards are saved through a zero-amount payment link with
  `storePaymentMethodMode=enabled`; the `AUTHORISATION` notification carries the stored method's
  id (`tokenization.storedPaymentMethodId`, or the older `recurring.recurringDetailReference`).
* Charges: `POST /payments` with the stored method, `shopperInteraction=ContAuth` and
  `recurringProcessingModel=UnscheduledCardOnFile`; `reference` is our payment's id and the
  `Idempotency-Key` header our payment's key. Refunds: `POST /payments/{psp}/refunds`, keyed the
  same way, `reference` = our refund's id.
* Amounts: Adyen's minor units differ from ISO 4217 for CLP (2), CVE (0), IDR (0) and ISK (2);
  `payments.providers.amounts` converts exactly or refuses.
* Notifications: a batch of `NotificationRequestItem`s, each signed with the HMAC key
  (`webhook_secret`, hex) in `additionalData.hmacSignature`; every item is verified with the SDK's
  `util.is_valid_hmac_notification`, and stored under `pspReference:eventCode:success`.
* `ADYEN_API_BASE` (settings) points the SDK's Checkout services elsewhere (the tests' fake
  server); in `live`, the connection's `live_prefix` builds Adyen's live URL.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

import Adyen
import requests
from Adyen import util as adyen_util
from Adyen.exceptions import AdyenAPIResponseError, AdyenError
from django.conf import settings

from payments.providers import base
from payments.providers.amounts import from_provider, to_provider

# Currencies whose minor unit at Adyen differs from ISO 4217's.
ADYEN_EXPONENTS = {"CLP": 2, "CVE": 0, "IDR": 0, "ISK": 2}

# `resultCode` of /payments → our payment status.
_RESULT = {
    "Authorised": "succeeded",
    "Pending": "processing",
    "Received": "processing",
    "PresentToShopper": "requires_action",
    "RedirectShopper": "requires_action",
    "IdentifyShopper": "requires_action",
    "ChallengeShopper": "requires_action",
    "Refused": "failed",
    "Error": "failed",
    "Cancelled": "canceled",
}


def adyen_amount(amount_cents: int, currency: str) -> dict[str, Any]:
    return {"value": to_provider(amount_cents, currency, ADYEN_EXPONENTS, "Adyen"), "currency": currency.upper()}


def from_adyen_amount(value: int, currency: str) -> int:
    return from_provider(value, currency, ADYEN_EXPONENTS)


def charge_result(data: dict[str, Any]) -> base.ChargeResult:
    status = _RESULT.get(data.get("resultCode") or "", "processing")
    failed = status in ("failed", "canceled")
    return base.ChargeResult(
        status=status,
        provider_payment_id=data.get("pspReference") or "",
        error_code=(data.get("refusalReasonCode") or data.get("resultCode") or "refused") if failed else "",
        error_message=(data.get("refusalReason") or "") if failed else "",
        next_action_url=((data.get("action") or {}).get("url") or "") if status == "requires_action" else "",
    )


class AdyenProvider(base.PaymentProvider):
    name = "adyen"
    collects_automatically = True
    webhook_ack = "[accepted]"

    def _checkout(self) -> Any:
        connection = self.connection
        live = connection.environment == "live"
        client = Adyen.Adyen(
            xapikey=connection.secret_key,
            platform="live" if live else "test",
            merchant_account=connection.merchant_account,
            live_endpoint_prefix=connection.live_prefix or None,
            http_timeout=float(getattr(settings, "ADYEN_TIMEOUT_SECONDS", 30)),
            http_force="requests",
        )
        checkout = client.checkout
        base = getattr(settings, "ADYEN_API_BASE", "") or ""
        if base:  # keep the SDK's API version (the path), change the host
            for api in (
                checkout.payments_api,
                checkout.payment_links_api,
                checkout.modifications_api,
                checkout.recurring_api,
            ):
                api.baseUrl = base.rstrip("/") + urlparse(api.baseUrl).path
        return checkout

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(*args, **kwargs).message or {}
        except requests.RequestException as exc:  # timeout, connection refused: outcome unknown
            raise base.TransientProviderError(str(exc)) from exc
        except AdyenAPIResponseError as exc:
            status = int(getattr(exc, "status_code", 0) or 0)
            if status >= 500 or status == 429:
                raise base.TransientProviderError(f"Adyen answered {status}") from exc
            code = "invalid_credentials" if status in (401, 403) else str(getattr(exc, "error_code", "") or "")
            raise base.ProviderError(_message(exc), code or "invalid_request") from exc
        except AdyenError as exc:
            raise base.ProviderError(str(exc), "provider_error") from exc

    def _merchant(self) -> str:
        if not self.connection.merchant_account:
            raise base.ProviderError("the Adyen connection has no merchant account", "invalid_configuration")
        return self.connection.merchant_account

    # ------------------------------------------------------------------ customers and methods

    def create_customer(self, *, name: str, email: str, external_id: str, idempotency_key: str) -> str:
        """Adyen keeps no customer object: the shopper reference is our external id."""
        return external_id

    def checkout_setup_url(
        self, *, provider_customer_id: str, method_types: list[str], success_url: str, currency: str = ""
    ) -> str:
        request = {
            "merchantAccount": self._merchant(),
            "reference": f"bxb_setup_{provider_customer_id}",
            "amount": {"value": 0, "currency": (currency or "USD").upper()},
            "shopperReference": provider_customer_id,
            "storePaymentMethodMode": "enabled",
            "recurringProcessingModel": "UnscheduledCardOnFile",
            "returnUrl": success_url,
        }
        return self._call(self._checkout().payment_links_api.payment_links, request)["url"]

    def delete_payment_method(self, *, provider_customer_id: str, provider_method_id: str) -> None:
        self._call(
            self._checkout().recurring_api.delete_token_for_stored_payment_details,
            provider_method_id,
            query_parameters={"shopperReference": provider_customer_id, "merchantAccount": self._merchant()},
        )

    # ------------------------------------------------------------------ money

    def charge(self, request: base.ChargeRequest) -> base.ChargeResult:
        payload = {
            "merchantAccount": self._merchant(),
            "amount": adyen_amount(request.amount_cents, request.currency),
            "reference": request.metadata.get("bxb_payment_id") or request.idempotency_key,
            "paymentMethod": {"type": "scheme", "storedPaymentMethodId": request.payment_method_id},
            "shopperReference": request.provider_customer_id,
            "shopperInteraction": "ContAuth",
            "recurringProcessingModel": "UnscheduledCardOnFile",
            "shopperStatement": request.description[:22],
            "metadata": {k: v[:80] for k, v in request.metadata.items() if v},
        }
        data = self._call(self._checkout().payments_api.payments, payload, idempotency_key=request.idempotency_key)
        return charge_result(data)

    def retrieve(self, *, provider_payment_id: str) -> base.ChargeResult:
        raise base.ProviderError("Adyen reports payment outcomes only by notification", "not_supported")

    def cancel(self, *, provider_payment_id: str) -> None:
        self._call(
            self._checkout().modifications_api.cancel_authorised_payment_by_psp_reference,
            {"merchantAccount": self._merchant(), "reference": f"bxb_cancel_{provider_payment_id}"},
            provider_payment_id,
            idempotency_key=f"bxb_cancel_{provider_payment_id}",
        )

    def payment_url(self, request: base.ChargeRequest, *, success_url: str) -> str:
        payload = {
            "merchantAccount": self._merchant(),
            "reference": request.metadata.get("bxb_payment_id") or request.idempotency_key,
            "amount": adyen_amount(request.amount_cents, request.currency),
            "shopperReference": request.provider_customer_id,
            "description": request.description,
            "returnUrl": success_url,
            "metadata": {k: v[:80] for k, v in request.metadata.items() if v},
        }
        data = self._call(
            self._checkout().payment_links_api.payment_links, payload, idempotency_key=request.idempotency_key
        )
        return data["url"]

    def refund(
        self, *, provider_payment_id: str, amount_cents: int, currency: str, idempotency_key: str, metadata: dict
    ) -> base.RefundResult:
        request = {
            "merchantAccount": self._merchant(),
            "amount": adyen_amount(amount_cents, currency),
            "reference": metadata.get("bxb_refund_id") or idempotency_key,
        }
        data = self._call(
            self._checkout().modifications_api.refund_captured_payment,
            request,
            provider_payment_id,
            idempotency_key=idempotency_key,
        )
        # Adyen answers `received`; the REFUND notification settles it.
        return base.RefundResult(status="pending", provider_refund_id=data.get("pspReference") or "")

    # ------------------------------------------------------------------ notifications

    def parse_webhook(self, *, body: bytes, headers: dict[str, str]) -> base.InboundEvent:
        events = self.parse_webhook_events(body=body, headers=headers)
        return events[0]

    def parse_webhook_events(self, *, body: bytes, headers: dict[str, str]) -> list[base.InboundEvent]:
        key = self.connection.webhook_secret
        if not key:
            raise base.WebhookSignatureError("no HMAC key")
        try:
            payload = json.loads(body)
            items = [entry["NotificationRequestItem"] for entry in payload["notificationItems"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise base.WebhookSignatureError(f"not an Adyen notification: {exc}") from exc
        if not items:
            raise base.WebhookSignatureError("no notification items")
        events = []
        for item in items:
            if not isinstance(item, dict) or not (item.get("additionalData") or {}).get("hmacSignature"):
                raise base.WebhookSignatureError("an item is not signed")
            try:
                valid = adyen_util.is_valid_hmac_notification(item, key)
            except (ValueError, KeyError, TypeError) as exc:  # a malformed key or item
                raise base.WebhookSignatureError(str(exc)) from exc
            if not valid:
                raise base.WebhookSignatureError("HMAC signature mismatch")
            event_id = f"{item.get('pspReference')}:{item.get('eventCode')}:{item.get('success')}"
            events.append(base.InboundEvent(id=event_id, type=str(item.get("eventCode") or ""), data=item, raw=item))
        return events

    def event_updates(self, event: base.InboundEvent) -> list[base.ProviderUpdate] | None:
        item = event.raw or event.data
        code = item.get("eventCode") or ""
        success = str(item.get("success")).lower() == "true"
        psp = item.get("pspReference") or ""
        reference = item.get("merchantReference") or ""
        extra = item.get("additionalData") or {}
        reason = item.get("reason") or ""
        updates: list[base.ProviderUpdate] = []
        if code == "AUTHORISATION":
            method_id = extra.get("tokenization.storedPaymentMethodId") or extra.get(
                "recurring.recurringDetailReference"
            )
            shopper = extra.get("tokenization.shopperReference") or extra.get("recurring.shopperReference")
            if success and method_id and shopper:
                updates.append(
                    base.MethodSaved(
                        provider_customer_id=shopper,
                        provider_method_id=method_id,
                        method_type="card",
                        details={
                            "brand": item.get("paymentMethod") or "",
                            "last4": extra.get("cardSummary") or "",
                            "expiry": extra.get("expiryDate") or "",
                        },
                    )
                )
            if reference and not reference.startswith("bxb_setup_"):
                result = base.ChargeResult(
                    status="succeeded" if success else "failed",
                    provider_payment_id=psp,
                    error_code="" if success else "refused",
                    error_message="" if success else reason,
                )
                updates.append(base.PaymentUpdate(payment_id=reference, result=result))
        elif code in ("CANCELLATION", "CANCEL_OR_REFUND") and success and reference:
            updates.append(base.PaymentUpdate(payment_id=reference, result=base.ChargeResult(status="canceled")))
        elif code == "REFUND":
            status = "succeeded" if success else "failed"
            updates.append(
                base.RefundUpdate(
                    refund_id=reference,
                    result=base.RefundResult(status=status, provider_refund_id=psp, error_message=reason),
                )
            )
        elif code in ("REFUND_FAILED", "REFUNDED_REVERSED"):
            updates.append(
                base.RefundUpdate(
                    refund_id=reference,
                    result=base.RefundResult(status="failed", provider_refund_id=psp, error_message=reason or code),
                )
            )
        elif code in ("NOTIFICATION_OF_CHARGEBACK", "CHARGEBACK", "CHARGEBACK_REVERSED", "SECOND_CHARGEBACK"):
            original = item.get("originalReference") or psp
            status = {"NOTIFICATION_OF_CHARGEBACK": "needs_response", "CHARGEBACK_REVERSED": "won"}.get(code, "lost")
            updates.append(base.DisputeUpdate(provider_payment_id=original, status=status, lost=status == "lost"))
        elif code == "RECURRING_CONTRACT" and success:
            shopper = extra.get("shopperReference") or extra.get("recurring.shopperReference")
            method_id = psp or extra.get("recurring.recurringDetailReference")
            if shopper and method_id:
                updates.append(
                    base.MethodSaved(provider_customer_id=shopper, provider_method_id=method_id, method_type="card")
                )
        elif code in ("RECURRING_DETAIL_DISABLED", "DISABLE_RECURRING") and success:
            method_id = extra.get("recurringDetailReference") or psp
            if method_id:
                updates.append(base.MethodRemoved(provider_method_id=method_id))
        return updates


def _message(exc: AdyenAPIResponseError) -> str:
    message = getattr(exc, "message", None)
    if isinstance(message, dict):
        return str(message.get("message") or message)
    return str(message or exc)
