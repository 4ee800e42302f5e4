"""Which taxes a fee takes (docs/billing-semantics.md §6.2): the first non-empty source wins."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoicing.calculation import TaxRate, select_taxes

EXPLICIT = (TaxRate("explicit", Decimal(1)),)
ADD_ON = (TaxRate("add_on", Decimal(2)),)
CHARGE = (TaxRate("charge", Decimal(3)),)
FIXED = (TaxRate("fixed_charge", Decimal(4)),)
COMMITMENT = (TaxRate("commitment", Decimal(5)),)
PLAN = (TaxRate("plan", Decimal(6)),)
CUSTOMER = (TaxRate("customer", Decimal(7)),)
ORG = (TaxRate("organization", Decimal(8)),)
ALL = {
    "add_on": ADD_ON,
    "charge": CHARGE,
    "fixed_charge": FIXED,
    "commitment": COMMITMENT,
    "plan": PLAN,
    "customer": CUSTOMER,
    "organization": ORG,
}


def codes(taxes):
    return [t.code for t in taxes]


@pytest.mark.parametrize(
    ("fee_type", "expected"),
    [
        ("add_on", "add_on"),
        ("charge", "charge"),
        ("fixed_charge", "fixed_charge"),
        ("commitment", "commitment"),
        ("subscription", "plan"),
    ],
)
def test_the_most_specific_source_wins(fee_type, expected):
    assert codes(select_taxes(fee_type, **ALL)) == [expected]


def test_falls_back_plan_then_customer_then_organization():
    assert codes(select_taxes("charge", plan=PLAN, customer=CUSTOMER, organization=ORG)) == ["plan"]
    assert codes(select_taxes("charge", customer=CUSTOMER, organization=ORG)) == ["customer"]
    assert codes(select_taxes("charge", organization=ORG)) == ["organization"]
    assert select_taxes("charge") == ()


def test_add_on_fees_never_take_plan_taxes():
    assert codes(select_taxes("add_on", plan=PLAN, customer=CUSTOMER)) == ["customer"]


def test_explicit_codes_win_even_when_empty():
    assert codes(select_taxes("add_on", tax_codes=EXPLICIT, **ALL)) == ["explicit"]
    assert select_taxes("add_on", tax_codes=[], **ALL) == ()


def test_credit_fees_are_never_taxed():
    assert select_taxes("credit", tax_codes=EXPLICIT, **ALL) == ()


def test_several_taxes_are_kept_together():
    both = (TaxRate("a", Decimal(5)), TaxRate("b", Decimal("2.5")))
    assert codes(select_taxes("charge", charge=both, plan=PLAN)) == ["a", "b"]
