"""The manual provider: money arrives out of band (bank transfer, cheque) and is recorded with
`POST /api/v1/payments`. Nothing is charged automatically; refunds are made by hand and stay
`pending` until someone marks them."""

from __future__ import annotations

from payments.providers.base import PaymentProvider, RefundResult


class ManualProvider(PaymentProvider):
    name = "manual"
    collects_automatically = False

    def refund(self, *, provider_payment_id, amount_cents, currency, idempotency_key, metadata) -> RefundResult:  # type: ignore[no-untyped-def]
        return RefundResult(status="pending")
