"""Typed inputs of the customers services: built from the input serializer's validated data,
"not sent" (`UNSET`) kept apart from null, nothing of the dict left for the service to parse."""

from __future__ import annotations

import pytest

from billing_project.core.api.views import validate_input
from billing_project.core.inputs import UNSET, or_none
from customers.api.serializers import CustomerInput, OrganizationInput
from customers.inputs import BillingConfiguration, CustomerUpsert, MetadataEntry, OrganizationUpdate
from customers.services import customer_upsert
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def test_customer_upsert_from_validated_keeps_sent_null_and_unsent_apart():
    data = validate_input(
        CustomerInput,
        {
            "external_id": "c1",
            "name": None,
            "billing_configuration": {"payment_provider": "stripe", "sync": None},
            "metadata": [{"key": "k", "value": "v"}],
            "shipping_address": {"city": "Paris", "country": "FR"},
        },
    )
    upsert = CustomerUpsert.from_validated(data)
    assert upsert.external_id == "c1"
    assert upsert.name is None and upsert.email is UNSET and upsert.tax_codes is UNSET
    assert upsert.billing_configuration == BillingConfiguration(payment_provider="stripe", sync=None)
    assert upsert.metadata == (MetadataEntry(key="k", value="v", display_in_invoice=False),)
    assert upsert.shipping_address is not UNSET and upsert.shipping_address is not None
    assert list(upsert.shipping_address) == ["city", "country"]  # as sent
    assert or_none(upsert.currency) is None and not UNSET


def test_null_clears_and_unsent_stays(organization):
    CustomerFactory(organization=organization, external_id="c2", name="Kept", email="a@example.test")
    customer, created = customer_upsert(organization, CustomerUpsert(external_id="c2", email=None))
    assert not created and customer.name == "Kept" and customer.email == ""


def test_organization_update_from_validated():
    data = validate_input(
        OrganizationInput, {"timezone": None, "billing_configuration": {"invoice_footer": "x"}}, partial=True
    )
    update = OrganizationUpdate.from_validated(data)
    assert update.timezone is None and update.default_currency is UNSET
    assert update.billing_configuration is not UNSET and update.billing_configuration is not None
    assert update.billing_configuration.invoice_footer == "x"
    assert update.billing_configuration.invoice_grace_period is UNSET
