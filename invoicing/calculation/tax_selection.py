"""Which taxes apply to a fee (docs/billing-semantics.md §6.2, Lago's ``Fees::ApplyTaxesService``).

``select_taxes(fee_type, ...)`` returns the **first non-empty** list, in this order:

1. ``tax_codes`` given explicitly on a one-off invoice line (``None`` = not given; an explicit
   empty list means "no tax", as in Lago);
2. the add-on's taxes (add-on fees);
3. the charge's taxes (charge fees), or the fixed charge's (fixed-charge fees);
4. the commitment's taxes (commitment fees);
5. the plan's taxes (subscription, charge, fixed-charge and commitment fees);
6. the customer's taxes;
7. the organization's default taxes (``applied_to_organization``).

Credit fees (wallet purchases) are never taxed. The caller resolves tax codes to ``TaxRate``s.
"""

from __future__ import annotations

from collections.abc import Sequence

from .types import FeeType, TaxRate

_PLAN_FEES = frozenset({FeeType.SUBSCRIPTION, FeeType.CHARGE, FeeType.FIXED_CHARGE, FeeType.COMMITMENT})


def select_taxes(
    fee_type: FeeType | str,
    *,
    tax_codes: Sequence[TaxRate] | None = None,
    add_on: Sequence[TaxRate] = (),
    charge: Sequence[TaxRate] = (),
    fixed_charge: Sequence[TaxRate] = (),
    commitment: Sequence[TaxRate] = (),
    plan: Sequence[TaxRate] = (),
    customer: Sequence[TaxRate] = (),
    organization: Sequence[TaxRate] = (),
) -> tuple[TaxRate, ...]:
    fee_type = FeeType(fee_type)
    if fee_type == FeeType.CREDIT:
        return ()
    if tax_codes is not None:
        return tuple(tax_codes)
    candidates: list[Sequence[TaxRate]] = []
    if fee_type == FeeType.ADD_ON:
        candidates.append(add_on)
    if fee_type == FeeType.CHARGE:
        candidates.append(charge)
    if fee_type == FeeType.FIXED_CHARGE:
        candidates.append(fixed_charge)
    if fee_type == FeeType.COMMITMENT:
        candidates.append(commitment)
    if fee_type in _PLAN_FEES:
        candidates.append(plan)
    candidates += [customer, organization]
    for taxes in candidates:
        if taxes:
            return tuple(taxes)
    return ()
