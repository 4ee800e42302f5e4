"""GoCardless (direct debit), through the official SDK (`gocardless-pro` on PyPI; the only module
that imports `gocardless_pro`).

* Customers: `POST /customers` (company name = our customer's name, email, metadata with our
  external id), keyed `bxb_customer_<id>`.
* Mandates: a billing request with a `mandate_request` and a billing request flow: the customer
  authorises the mandate on GoCardless' hosted page (`authorisation_url`); the mandate arrives by
  webhook (`billing_requests.fulfilled`, `mandates.created`/`active`) and is saved as the
  customer's payment method (type `direct_debit`); `mandates.cancelled`/`failed`/`expired`
  remove it.
* Charges: `POST /payments` against the mandate, `Idempotency-Key` = our payment's key (the SDK
  answers an idempotent-creation conflict with the payment the first call created), metadata
  `bxb_payment_id`. A direct debit is `processing` until `payments.confirmed` (succeeded) or
  `payments.failed`; `payments.charged_back` is a lost dispute.
* Refunds: `POST /refunds` with `total_amount_confirmation` (what will have been refunded in all,
  read from the payment first, as GoCardless requires), keyed by our refund.
* Amounts: GoCardless' currencies all have two decimals like ISO 4217; `payments.providers.amounts`
  converts exactly or refuses.
* Webhooks: the `Webhook-Signature` header (HMAC-SHA256 of the body with the endpoint's secret),
  verified by `gocardless_pro.webhooks.parse`; one delivery holds several events, each stored
  under its own id.
* `GOCARDLESS_API_BASE` (settings) points the SDK elsewhere (the tests' fake server); otherwise the
  connection's `environment` (`live`, else `sandbox`).
"""

from __future__ import annotations

from typing import Any

import gocardless_pro
import requests
from django.conf import settings
from gocardless_pro import errors as gc_errors
from gocardless_pro import webhooks as gc_webhooks

from payments.providers import base
from payments.providers.amounts import to_provider

# A payment's `status` → our payment status.
_STATUS = {
    "pending_customer_approval": "processing",
    "pending_submission": "processing",
    "submitted": "processing",
    "confirmed": "succeeded",
    "paid_out": "succeeded",
    "cancelled": "canceled",
    "customer_approval_denied": "failed",
    "failed": "failed",
    "charged_back": "failed",
}
# `payments.<action>` events → our payment status.
_PAYMENT_ACTIONS = {
    "submitted": "processing",
    "resubmission_requested": "processing",
    "confirmed": "succeeded",
    "paid_out": "succeeded",
    "failed": "failed",
    "customer_approval_denied": "failed",
    "cancelled": "canceled",
}
_REFUND_ACTIONS = {"paid": "succeeded", "refund_settled": "succeeded", "failed": "failed", "bounced": "failed",
                   "funds_returned": "failed"}  # fmt: skip
_MANDATE_SAVED = {"created", "submitted", "active", "reinstated", "customer_approval_granted"}
_MANDATE_REMOVED = {"cancelled", "failed", "expired", "blocked", "consumed"}


def charge_result(payment: dict[str, Any]) -> base.ChargeResult:
    status = _STATUS.get(payment.get("status") or "", "processing")
    return base.ChargeResult(
        status=status,
        provider_payment_id=payment.get("id") or "",
        error_code=(payment.get("status") or "") if status in ("failed", "canceled") else "",
    )


def gocardless_amount(amount_cents: int, currency: str) -> int:
    return to_provider(amount_cents, currency, {}, "GoCardless")


class GoCardlessProvider(base.PaymentProvider):
    name = "gocardless"
    collects_automatically = True

    def _client(self) -> gocardless_pro.Client:
        base = getattr(settings, "GOCARDLESS_API_BASE", "") or ""
        timeout = float(getattr(settings, "GOCARDLESS_TIMEOUT_SECONDS", 30))
        if base:
            return gocardless_pro.Client(access_token=self.connection.secret_key, base_url=base, timeout=timeout)
        environment = "live" if self.connection.environment == "live" else "sandbox"
        return gocardless_pro.Client(access_token=self.connection.secret_key, environment=environment, timeout=timeout)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return dict(fn(*args, **kwargs).attributes)
        except (requests.RequestException, gc_errors.MalformedResponseError) as exc:  # after the SDK's retries
            raise base.TransientProviderError(str(exc)) from exc
        except (gc_errors.GoCardlessInternalError, gc_errors.RateLimitError) as exc:
            raise base.TransientProviderError(str(exc)) from exc
        except (gc_errors.AuthenticationError, gc_errors.PermissionsError) as exc:
            raise base.ProviderError(str(exc), "invalid_credentials") from exc
        except gc_errors.ApiError as exc:
            reason = ((exc.errors or [{}])[0] or {}).get("reason") or exc.type or "invalid_request"
            raise base.ProviderError(str(exc), str(reason)) from exc
        except gc_errors.GoCardlessProError as exc:
            raise base.ProviderError(str(exc), "provider_error") from exc

    # ------------------------------------------------------------------ customers and mandates

    def create_customer(self, *, name: str, email: str, external_id: str, idempotency_key: str) -> str:
        params: dict[str, Any] = {"company_name": name or external_id, "metadata": {"bxb_external_id": external_id}}
        if email:
            params["email"] = email.split(",")[0].strip()
        data = self._call(self._client().customers.create, params=params, headers={"Idempotency-Key": idempotency_key})
        return data["id"]

    def checkout_setup_url(
        self, *, provider_customer_id: str, method_types: list[str], success_url: str, currency: str = ""
    ) -> str:
        client = self._client()
        mandate_request: dict[str, Any] = {"currency": (currency or "EUR").upper()}
        request = self._call(
            client.billing_requests.create,
            params={"mandate_request": mandate_request, "links": {"customer": provider_customer_id}},
        )
        flow = self._call(
            client.billing_request_flows.create,
            params={
                "redirect_uri": success_url,
                "exit_uri": success_url,
                "links": {"billing_request": request["id"]},
            },
        )
        return flow["authorisation_url"]

    def delete_payment_method(self, *, provider_customer_id: str, provider_method_id: str) -> None:
        self._call(self._client().mandates.cancel, provider_method_id)

    def mandate_customer(self, mandate_id: str) -> str:
        return ((self._call(self._client().mandates.get, mandate_id).get("links")) or {}).get("customer") or ""

    # ------------------------------------------------------------------ money

    def charge(self, request: base.ChargeRequest) -> base.ChargeResult:
        keep = ("bxb_payment_id", "bxb_invoice_id", "bxb_organization_id")  # GoCardless allows 3 keys
        params = {
            "amount": gocardless_amount(request.amount_cents, request.currency),
            "currency": request.currency.upper(),
            "description": request.description[:255],
            "links": {"mandate": request.payment_method_id},
            "metadata": {k: request.metadata[k] for k in keep if request.metadata.get(k)},
        }
        data = self._call(
            self._client().payments.create, params=params, headers={"Idempotency-Key": request.idempotency_key}
        )
        return charge_result(data)

    def retrieve(self, *, provider_payment_id: str) -> base.ChargeResult:
        return charge_result(self._call(self._client().payments.get, provider_payment_id))

    def cancel(self, *, provider_payment_id: str) -> None:
        self._call(self._client().payments.cancel, provider_payment_id)

    def refund(
        self, *, provider_payment_id: str, amount_cents: int, currency: str, idempotency_key: str, metadata: dict
    ) -> base.RefundResult:
        client = self._client()
        payment = self._call(client.payments.get, provider_payment_id)
        amount = gocardless_amount(amount_cents, currency)
        params = {
            "amount": amount,
            "total_amount_confirmation": int(payment.get("amount_refunded") or 0) + amount,
            "links": {"payment": provider_payment_id},
            "metadata": {k: str(v) for k, v in list(metadata.items())[:3] if v},
        }
        data = self._call(client.refunds.create, params=params, headers={"Idempotency-Key": idempotency_key})
        return base.RefundResult(status="pending", provider_refund_id=data.get("id") or "")

    # ------------------------------------------------------------------ webhooks

    def parse_webhook(self, *, body: bytes, headers: dict[str, str]) -> base.InboundEvent:
        return self.parse_webhook_events(body=body, headers=headers)[0]

    def parse_webhook_events(self, *, body: bytes, headers: dict[str, str]) -> list[base.InboundEvent]:
        signature = headers.get("Webhook-Signature") or headers.get("webhook-signature") or ""
        secret = self.connection.webhook_secret
        if not signature or not secret:
            raise base.WebhookSignatureError("missing signature or secret")
        try:
            parsed = gc_webhooks.parse(body, secret, signature)
        except gc_errors.InvalidSignatureError as exc:
            raise base.WebhookSignatureError("signature mismatch") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise base.WebhookSignatureError(f"not a GoCardless webhook: {exc}") from exc
        events = []
        for item in parsed:
            if not isinstance(item.attributes, dict):
                raise base.WebhookSignatureError("an event is not an object")
            raw = dict(item.attributes)
            if not raw.get("id"):
                raise base.WebhookSignatureError("an event has no id")
            events.append(
                base.InboundEvent(
                    id=str(raw["id"]), type=f"{raw.get('resource_type')}.{raw.get('action')}", data=raw, raw=raw
                )
            )
        if not events:
            raise base.WebhookSignatureError("no events")
        return events

    def event_updates(self, event: base.InboundEvent) -> list[base.ProviderUpdate] | None:
        raw = event.raw or event.data
        resource, action = raw.get("resource_type") or "", raw.get("action") or ""
        links = raw.get("links") or {}
        details = raw.get("details") or {}
        metadata = raw.get("resource_metadata") or {}
        message = details.get("description") or ""
        if resource == "payments":
            payment_id = links.get("payment") or ""
            if action == "charged_back":
                return [base.DisputeUpdate(provider_payment_id=payment_id, status="lost", lost=True)]
            status = _PAYMENT_ACTIONS.get(action)
            if status is None:
                return []
            failed = status in ("failed", "canceled")
            result = base.ChargeResult(
                status=status,
                provider_payment_id=payment_id,
                error_code=(details.get("reason_code") or details.get("cause") or action) if failed else "",
                error_message=message if failed else "",
            )
            return [base.PaymentUpdate(payment_id=str(metadata.get("bxb_payment_id") or ""), result=result)]
        if resource == "refunds":
            status = _REFUND_ACTIONS.get(action)
            if status is None:
                return []
            refunded = base.RefundResult(
                status=status,
                provider_refund_id=links.get("refund") or "",
                error_message=message if status == "failed" else "",
            )
            return [base.RefundUpdate(refund_id=str(metadata.get("bxb_refund_id") or ""), result=refunded)]
        if resource == "mandates":
            mandate = links.get("mandate") or ""
            if not mandate:
                return []
            if action in _MANDATE_REMOVED:
                return [base.MethodRemoved(provider_method_id=mandate)]
            if action in _MANDATE_SAVED:
                customer = links.get("customer") or self.mandate_customer(mandate)
                return [
                    base.MethodSaved(
                        provider_customer_id=customer, provider_method_id=mandate, method_type="direct_debit"
                    )
                ]
            return []
        if resource == "billing_requests" and action == "fulfilled":
            mandate = links.get("mandate_request_mandate") or ""
            customer = links.get("customer") or ""
            if mandate and customer:
                return [
                    base.MethodSaved(
                        provider_customer_id=customer, provider_method_id=mandate, method_type="direct_debit"
                    )
                ]
        return []
