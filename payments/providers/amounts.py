"""Our amounts (ISO 4217 minor units, `money.exponent`) in a provider's unit, and back.

A provider may count a currency with other decimals than ISO (Stripe: ISK, UGX; Adyen: CLP,
CVE, IDR, ISK). Converting to more decimals multiplies; to fewer, it divides only when nothing is
lost, else refuses with `amount_not_supported`. Nothing is ever rounded: a charge is exactly the
invoice's amount or it is not made."""

from __future__ import annotations

from billing_project.core import money
from payments.providers.base import ProviderError


def to_provider(amount_cents: int, currency: str, exponents: dict[str, int], provider: str) -> int:
    code = currency.upper()
    try:
        ours = money.exponent(code)
    except money.UnknownCurrency:
        raise ProviderError(f"unknown currency {code}", "amount_not_supported") from None
    theirs = exponents.get(code, ours)
    if theirs >= ours:
        return int(amount_cents) * 10 ** (theirs - ours)
    factor = 10 ** (ours - theirs)
    if int(amount_cents) % factor:
        raise ProviderError(f"{amount_cents} {code} cannot be charged exactly at {provider}", "amount_not_supported")
    return int(amount_cents) // factor


def from_provider(amount: int, currency: str, exponents: dict[str, int]) -> int:
    """The provider's amount in our minor units (exact for every amount `to_provider` produced)."""
    code = currency.upper()
    ours = money.exponent(code)
    theirs = exponents.get(code, ours)
    if theirs >= ours:
        return int(amount) // 10 ** (theirs - ours)
    return int(amount) * 10 ** (ours - theirs)
