"""Typed inputs of the invoicing services: the invoice preview's request.

`invoicing/api/preview.py` reads the body (`preview_input`) and refuses what is malformed with
Lago's codes; `invoicing.services.preview.invoice_preview` takes the typed request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class PreviewCustomer:
    """The previewed customer: an existing one by `external_id`, or a new one described inline;
    the attributes sent (None: not sent) apply to the preview either way."""

    external_id: str | None = None
    name: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    customer_type: str | None = None
    email: str | None = None
    legal_name: str | None = None
    legal_number: str | None = None
    tax_identification_number: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    zipcode: str | None = None
    state: str | None = None
    country: str | None = None
    currency: str | None = None
    timezone: str | None = None
    net_payment_term: int | None = None
    shipping_address: Mapping[str, str | None] | None = None


@dataclass(frozen=True)
class PreviewCoupon:
    """A coupon applied in the preview: an existing code (with overrides) or one described inline."""

    code: str
    name: str | None = None
    coupon_type: str | None = None
    frequency: str | None = None
    amount_cents: int | None = None
    amount_currency: str | None = None
    percentage_rate: Decimal | None = None
    frequency_duration: int | None = None


@dataclass(frozen=True)
class PreviewRequest:
    """`POST /invoices/preview`: what to preview (docs/invoicing.md §9). `coupons` None: the
    customer's own applied coupons apply."""

    customer: PreviewCustomer | None
    billing_time: str = "calendar"
    plan_code: str | None = None
    subscription_at: dt.datetime | None = None
    external_ids: tuple[str, ...] = ()
    switch_plan_code: str | None = None
    terminated_at: dt.datetime | None = None
    coupons: tuple[PreviewCoupon, ...] | None = None
    billing_entity_code: str | None = None  # the entity that bills the new subscription previewed
