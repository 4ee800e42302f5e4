"""The payment handlers of a checkout, backed by the organization's payment connection
(docs/ucp.md, "Payments").

* Stripe (`<namespace>.stripe_tokenizer`): the instrument's credential is a Stripe PaymentMethod id
  (`pm_...`) the platform tokenized for the business's Stripe account. Completion charges it once,
  with the idempotency key `ucp_<checkout id>_<attempt>` (a new attempt only after a definitive
  refusal, so a retried completion replays the same charge), and saves it as the customer's default
  method so the subscription's later invoices are collected like any other.
* Manual (`<namespace>.pay_by_invoice`): nothing is charged; the invoice waits for a payment made
  out of band (`POST /api/v1/payments`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

from billing_project.core.errors import ProviderFailure
from payments.providers import ChargeRequest, ProviderError, TransientProviderError, provider_for
from payments.services.collection import payment_record_charge
from payments.services.customers import payment_method_save, provider_customer_ensure
from ucp.models import Checkout, UcpSettings
from ucp.protocol import UcpError
from ucp.services.purchase import Billed


@dataclass(frozen=True)
class Instrument:
    id: str
    handler_id: str
    type: str
    token: str


@dataclass(frozen=True)
class Outcome:
    status: str  # succeeded | failed | requires_action
    provider_payment_id: str = ""
    error_message: str = ""
    next_action_url: str = ""


def selected_instrument(settings: UcpSettings, payment: Any) -> Instrument:
    """The instrument to pay with: the one marked `selected`, else the only one."""
    instruments = payment.get("instruments") if isinstance(payment, dict) else None
    if not isinstance(instruments, list) or not instruments:
        raise UcpError(400, "invalid_request", "payment.instruments is required to complete a checkout")
    chosen = [i for i in instruments if isinstance(i, dict) and i.get("selected") is True] or instruments
    raw = chosen[0]
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), str) and raw.get(k) for k in ("id", "handler_id", "type")
    ):
        raise UcpError(400, "invalid_request", "A payment instrument needs id, handler_id and type")
    connection = settings.payment_connection
    if connection is None or raw["handler_id"] != connection.code:
        raise UcpError(400, "invalid_request", f"Unknown payment handler {raw['handler_id']!r}")
    credential = raw.get("credential")
    token: Any = ""
    if connection.provider == "stripe":
        if raw["type"] != "card" or not isinstance(credential, dict) or not isinstance(credential.get("type"), str):
            raise UcpError(400, "invalid_request", "A card instrument with a credential is required")
        token = credential.get("token")
        if not isinstance(token, str) or not token.startswith("pm_") or len(token) > 255:
            raise UcpError(400, "invalid_request", "The credential token must be a Stripe PaymentMethod id (pm_...)")
    elif raw["type"] != "invoice":
        raise UcpError(400, "invalid_request", "This handler takes instruments of type invoice")
    return Instrument(id=raw["id"], handler_id=raw["handler_id"], type=raw["type"], token=token)


def idempotency_key(checkout: Checkout) -> str:
    return f"ucp_{checkout.public_id}_{checkout.payment_attempt}"


def charge(
    settings: UcpSettings,
    checkout: Checkout,
    billed: Billed,
    instrument: Instrument,
    *,
    amount_cents: int,
    now: dt.datetime,
) -> Outcome:
    """Charge what is due now and record it on the invoice (in the caller's transaction, which
    is rolled back when this does not succeed)."""
    connection = settings.payment_connection
    assert connection is not None
    if connection.provider != "stripe":
        return Outcome(status="succeeded")  # pay by invoice: nothing is charged now
    try:
        customer = provider_customer_ensure(billed.customer.id)
    except ProviderFailure as exc:
        return Outcome(status="failed", error_message=f"The payment provider refused the buyer ({exc})")
    provider = provider_for(connection)
    key = idempotency_key(checkout)
    provider_customer_id = customer.provider_customer_id or ""
    if amount_cents > 0:
        try:
            if checkout.pending_provider_payment_id:
                result = provider.retrieve(provider_payment_id=checkout.pending_provider_payment_id)
            else:
                result = provider.charge(
                    ChargeRequest(
                        amount_cents=amount_cents,
                        currency=checkout.currency,
                        provider_customer_id=provider_customer_id,
                        payment_method_id=instrument.token,
                        idempotency_key=key,
                        metadata={
                            "bxb_ucp_checkout": checkout.public_id,
                            "bxb_organization_id": str(settings.organization_id),
                            "bxb_invoice_id": str(billed.invoice.id if billed.invoice else ""),
                        },
                        description=f"UCP checkout {checkout.public_id}",
                    )
                )
        except TransientProviderError as exc:
            raise UcpError(
                503,
                "payment_unavailable",
                "The payment provider did not answer; retry the completion",
                headers={"Retry-After": "5"},
            ) from exc
        except ProviderError as exc:
            return Outcome(status="failed", error_message=str(exc))
        if result.status == "requires_action":
            return Outcome(
                status="requires_action",
                provider_payment_id=result.provider_payment_id,
                next_action_url=result.next_action_url,
            )
        if result.status != "succeeded":
            return Outcome(
                status="failed",
                provider_payment_id=result.provider_payment_id,
                error_message=result.error_message or "The payment was declined",
            )
        assert billed.invoice is not None
        payment_record_charge(
            billed.invoice.id,
            connection=connection,
            amount_cents=amount_cents,
            provider_payment_id=result.provider_payment_id,
            provider_customer_id=provider_customer_id,
            provider_method_id=instrument.token,
            idempotency_key=key,
            now=now,
        )
        outcome = Outcome(status="succeeded", provider_payment_id=result.provider_payment_id)
    else:
        outcome = Outcome(status="succeeded")
    payment_method_save(
        connection,
        provider_customer_id=provider_customer_id,
        provider_method_id=instrument.token,
        method_type="card",
        now=now,
    )
    return outcome


def abandon(settings: UcpSettings, checkout: Checkout) -> None:
    """Give up a payment waiting for the buyer (the checkout changed or was canceled): canceled at
    the provider when possible; the next completion is a new attempt."""
    connection = settings.payment_connection
    if connection is not None and checkout.pending_provider_payment_id:
        with contextlib.suppress(ProviderError, TransientProviderError):
            provider_for(connection).cancel(provider_payment_id=checkout.pending_provider_payment_id)
    checkout.pending_provider_payment_id = ""
    checkout.payment_attempt += 1
