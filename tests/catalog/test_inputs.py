"""Typed inputs of the catalog services (taxes, add-ons): "not sent" stays, null and values apply."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing_project.core.api.views import validate_input
from billing_project.core.errors import ValidationFailure
from billing_project.core.inputs import UNSET
from catalog import services
from catalog.api.serializers import AddOnInput, TaxInput
from catalog.inputs import AddOnFields, TaxFields

pytestmark = pytest.mark.django_db


def test_tax_fields_from_validated_and_partial_update(organization):
    fields = TaxFields.from_validated(validate_input(TaxInput, {"name": "VAT", "code": "vat", "rate": "20"}))
    assert fields == TaxFields(name="VAT", code="vat", rate="20")
    tax = services.tax_create(organization, data=fields)
    assert tax.rate == Decimal("20")
    update = TaxFields.from_validated(validate_input(TaxInput, {"description": None}, partial=True))
    assert update.rate is UNSET and update.description is None
    tax = services.tax_update(organization, code="vat", data=update)
    assert (tax.name, tax.rate, tax.description) == ("VAT", Decimal("20"), "")


def test_add_on_fields_keep_lago_error_codes(organization):
    with pytest.raises(ValidationFailure) as refused:
        services.add_on_create(organization, data=AddOnFields(name="Setup", code="setup", amount_currency="XYZ"))
    assert refused.value.details == {"amount_cents": ["value_is_mandatory"], "amount_currency": ["value_is_invalid"]}
    add_on = services.add_on_create(
        organization,
        data=AddOnFields.from_validated(
            validate_input(
                AddOnInput, {"name": "Setup", "code": "setup", "amount_cents": 500, "amount_currency": "EUR"}
            )
        ),
    )
    updated = services.add_on_update(organization, code="setup", data=AddOnFields(amount_cents=700))
    assert (updated.pk, updated.amount_cents, updated.amount_currency) == (add_on.pk, 700, "EUR")
