"""Stripe amounts are exact for every currency: converted by integer arithmetic or refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from billing_project.core import money
from payments.providers import ProviderError
from payments.providers.stripe import from_stripe_amount, stripe_amount


@given(cents=st.integers(min_value=0, max_value=10**15), currency=st.sampled_from(sorted(money.CURRENCIES)))
def test_round_trip_or_refusal(cents, currency):
    try:
        sent = stripe_amount(cents, currency)
    except ProviderError:
        assert money.exponent(currency) == 3 and cents % 10 != 0
        return
    assert isinstance(sent, int)
    assert from_stripe_amount(sent, currency) == cents
    assert sent >= cents
