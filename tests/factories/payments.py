"""Factories for payments tests: connections, customers linked to a provider, finalized invoices."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.utils import timezone

from invoicing.models import Fee, FeeType, Invoice, InvoiceStatus, InvoiceType
from payments.models import DunningCampaign, PaymentMethod
from payments.services.connections import connection_create
from tests.factories.customers import CustomerFactory

WEBHOOK_SECRET = "whsec_test_secret"
_numbers = itertools.count(1)


def stripe_connection(organization: Any, code: str = "stripe_1", **extra: Any):
    return connection_create(
        organization,
        code=code,
        provider="stripe",
        secret_key=extra.pop("secret_key", "sk_test_123"),
        webhook_secret=extra.pop("webhook_secret", WEBHOOK_SECRET),
        **extra,
    )


ADYEN_HMAC_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
GOCARDLESS_WEBHOOK_SECRET = "gc_webhook_secret"


def adyen_connection(organization: Any, code: str = "adyen_1", **extra: Any):
    return connection_create(
        organization,
        code=code,
        provider="adyen",
        secret_key=extra.pop("secret_key", "adyen_api_key"),
        webhook_secret=extra.pop("webhook_secret", ADYEN_HMAC_KEY),
        merchant_account=extra.pop("merchant_account", "BxbTestMerchant"),
        **extra,
    )


def gocardless_connection(organization: Any, code: str = "gocardless_1", **extra: Any):
    return connection_create(
        organization,
        code=code,
        provider="gocardless",
        secret_key=extra.pop("secret_key", "gc_token"),
        webhook_secret=extra.pop("webhook_secret", GOCARDLESS_WEBHOOK_SECRET),
        **extra,
    )


def provider_customer(
    organization: Any, connection: Any, *, provider_customer_id: str, method: str | None = None, **extra: Any
):
    """A customer paying through `connection` (any provider), with a default saved method."""
    method_type = extra.pop("method_type", "card")
    customer = CustomerFactory(
        organization=organization,
        payment_provider=connection.provider,
        payment_provider_code=connection.code,
        provider_customer_id=provider_customer_id,
        **extra,
    )
    if method:
        PaymentMethod.objects.create(
            organization=organization,
            customer=customer,
            connection=connection,
            provider_method_id=method,
            method_type=method_type,
            is_default=True,
        )
    return customer


def stripe_customer(
    organization: Any, connection: Any, *, provider_customer_id: str, method: str | None = None, **extra: Any
):
    customer = CustomerFactory(
        organization=organization,
        payment_provider="stripe",
        payment_provider_code=connection.code,
        provider_customer_id=provider_customer_id,
        **extra,
    )
    if method:
        PaymentMethod.objects.create(
            organization=organization,
            customer=customer,
            connection=connection,
            provider_method_id=method,
            method_type="card",
            is_default=True,
        )
    return customer


def finalized_invoice(customer: Any, total_amount_cents: int, currency: str = "USD", **extra: Any) -> Invoice:
    today = extra.pop("issuing_date", timezone.now().date())
    n = next(_numbers)
    with_fee = extra.pop("with_fee", False)
    invoice = Invoice.objects.create(
        organization=customer.organization,
        customer=customer,
        invoice_type=extra.pop("invoice_type", InvoiceType.ONE_OFF),
        status=extra.pop("status", InvoiceStatus.FINALIZED),
        number=extra.pop("number", f"TST-{n:05d}"),
        sequential_id=n,
        currency=currency,
        issuing_date=today,
        payment_due_date=extra.pop("payment_due_date", today + dt.timedelta(days=30)),
        fees_amount_cents=total_amount_cents,
        sub_total_excluding_taxes_amount_cents=total_amount_cents,
        sub_total_including_taxes_amount_cents=total_amount_cents,
        total_amount_cents=total_amount_cents,
        finalized_at=timezone.now(),
        **extra,
    )
    if with_fee:
        Fee.objects.create(
            organization=customer.organization,
            customer=customer,
            invoice=invoice,
            fee_type=FeeType.ADD_ON,
            currency=currency,
            units=1,
            amount_cents=total_amount_cents,
            precise_amount_cents=total_amount_cents,
            unit_amount_cents=total_amount_cents,
        )
    return invoice


def dunning_campaign(organization: Any, **extra: Any) -> DunningCampaign:
    return DunningCampaign.objects.create(
        organization=organization,
        code=extra.pop("code", "default"),
        name=extra.pop("name", "Default"),
        thresholds=extra.pop("thresholds", [{"currency": "USD", "amount_cents": 1000}]),
        days_between_attempts=extra.pop("days_between_attempts", 3),
        max_attempts=extra.pop("max_attempts", 3),
        **extra,
    )
