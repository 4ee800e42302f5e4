"""Pay-in-advance charges: the price of one event is the difference it makes.

Lago (api `app/services/charges/apply_pay_in_advance_charge_model_service.rb`) prices the period's
usage with the event and without it, and bills the difference:
`fee = price(usage with the event) − price(usage without it, "exclude_event")`.
"exclude_event" matters for graduated and graduated percentage: the first tier's flat fee, due
at 0 units in arrears, is not counted in the "without" price, so the first event pays it. Volume
is never paid in advance.

bxb choice: for graduated and graduated percentage, an event that leaves the usage at 0 units
costs nothing (Lago charges the first tier's flat fee again for every such event); the flat fee
is paid by the first event that brings units. So the events' fees always add up to the arrears
price of the period's usage once it is above 0.
"""

from __future__ import annotations

from dataclasses import replace

from .engine import price
from .types import ZERO, PricingError, PricingResult, Properties, Usage

# Models whose first tier's flat fee is due at 0 units in arrears: in advance, the event that
# brings the first units pays it, and an event that leaves the usage at 0 costs nothing.
FIRST_FLAT_AT_ZERO = frozenset({"graduated", "graduated_percentage"})


def price_in_advance(
    charge_model: str,
    properties: Properties,
    *,
    before: Usage,
    after: Usage,
    currency: str | None = None,
) -> PricingResult:
    """The fee of the event that takes the period's usage from `before` to `after`.

    `before` is the usage of the period's earlier events (0 units for the first), `after` includes
    the new event. The result's `amount` is unrounded (round it once with `to_cents`), never
    negative, its `units` are the event's units (`after.units − before.units`), and its breakdown
    is the "after" breakdown followed by the "before" breakdown with negated amounts, so that the
    lines still sum to the amount.
    """
    if charge_model == "volume":
        raise PricingError("volume charges cannot be paid in advance")
    if charge_model in FIRST_FLAT_AT_ZERO and after.units <= 0:
        with_event = PricingResult(amount=ZERO, units=after.units, unit_amount=ZERO, breakdown=())
    else:
        with_event = price(charge_model, properties, after, currency=currency)
    if charge_model in FIRST_FLAT_AT_ZERO and before.units <= 0:
        without_event = PricingResult(amount=ZERO, units=before.units, unit_amount=ZERO, breakdown=())
    else:
        without_event = price(charge_model, properties, before, currency=currency)
    amount = with_event.amount - without_event.amount
    lines = list(with_event.breakdown) + [
        {**line, "amount": -line["amount"], "excluded_event": True} for line in without_event.breakdown
    ]
    if amount < 0:
        # A usage that went down (a removal) is not refunded by a pay-in-advance fee.
        lines.append({"adjustment": "no_negative_fee", "amount": -amount})
        amount = ZERO
    units = after.units - before.units
    return replace(
        with_event,
        amount=amount,
        units=units,
        unit_amount=(amount / units) if units > 0 else ZERO,
        breakdown=tuple(lines),
    )
