"""Which inbound wallet transactions fund an outbound one (docs/credits.md, "Traceability").

Pure: no ORM, so the ledger service and the migration that backfilled the pairing apply the same
rule. An outbound line (credits invoiced or voided) consumes the settled inbound lines that still
hold something, in Lago's consumption order: the lowest `priority` first, granted credits before
purchased ones, then the oldest (`created_at`, then id, so the order is total). Each inbound line
gives `min(what it still holds, what is still to fund)`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from billing_project.core.money import from_cents, to_cents

CREDITS_QUANTUM = Decimal("0.00001")


def credits_to_cents(credits: Decimal, *, rate_amount: Any, currency: str) -> int:
    return to_cents(credits * Decimal(rate_amount), currency)


def cents_to_credits(cents: int, *, rate_amount: Any, currency: str) -> Decimal:
    return (from_cents(cents, currency) / Decimal(rate_amount)).quantize(CREDITS_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Inbound:
    """A settled inbound line and what it still holds."""

    id: Any
    priority: int
    granted: bool
    created_at: dt.datetime
    remaining_cents: int


def consumption_order(inbound: Inbound) -> tuple[int, int, dt.datetime, str]:
    return (inbound.priority, 0 if inbound.granted else 1, inbound.created_at, str(inbound.id))


def allocate(amount_cents: int, inbounds: Sequence[Inbound]) -> list[tuple[Any, int]]:
    """(inbound id, cents) pairs funding `amount_cents`; short when the inbounds hold less."""
    pairs: list[tuple[Any, int]] = []
    left = amount_cents
    for inbound in sorted(inbounds, key=consumption_order):
        if left <= 0:
            break
        take = min(inbound.remaining_cents, left)
        if take > 0:
            pairs.append((inbound.id, take))
            left -= take
    return pairs
