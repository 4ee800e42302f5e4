"""A charge's spending minimum (`charge.min_amount_cents`, docs/billing-semantics.md §2.10).

Where it is applied: at invoicing, never in current usage and never on pay-in-advance charges
(`validate_charge_model_for_metric` refuses that combination). Once the charge's fees for the period
are built and rounded, invoicing calls `spending_minimum_true_up_cents` with their total; a positive
answer becomes a separate "true-up" fee on the same charge (units 1, parent = the charge's fee).
The minimum is prorated by days when the charges' period is cut short (termination, upgrade).
"""

from __future__ import annotations

from decimal import Decimal

from billing_project.core.money import round_cents


def spending_minimum_true_up_cents(
    *, min_amount_cents: int, used_amount_cents: int, period_days: int, days_used: int | None = None
) -> int:
    """The true-up fee in cents, or 0 when the usage reached the (prorated) minimum.

    `round(min_amount_cents / period_days × days_used − used_amount_cents)`, half-up, computed exactly
    in Decimal. Lago's spec: minimum $10, usage 800 cents, 25 of 28 days → 93 cents. Docs: $100
    minimum, $50 usage, full period → 5,000 cents.
    """
    if min_amount_cents < 0 or used_amount_cents < 0:
        raise ValueError("amounts must be non-negative")
    if period_days <= 0:
        raise ValueError("period_days must be positive")
    days = period_days if days_used is None else days_used
    if not 0 <= days <= period_days:
        raise ValueError("days_used must be between 0 and period_days")
    if min_amount_cents == 0:
        return 0
    prorated_minimum = Decimal(min_amount_cents) * days / period_days
    if used_amount_cents >= prorated_minimum:
        return 0
    return max(round_cents(prorated_minimum - used_amount_cents), 0)
