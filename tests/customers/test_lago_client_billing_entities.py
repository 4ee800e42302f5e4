"""Lago's official Python client drives `/billing_entities` end to end against a live server."""

from __future__ import annotations

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import Customer
from lago_python_client.models.billing_entity import (
    BillingEntity,
    BillingEntityBillingConfiguration,
    BillingEntityUpdate,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_billing_entities_with_lago_client(lago):
    client = lago.client
    [default] = client.billing_entities.find_all()["billing_entities"]
    assert default.is_default is True

    created = client.billing_entities.create(
        BillingEntity(
            code="acme_us",
            name="Acme US",
            legal_name="Acme US Inc.",
            tax_identification_number="US-42",
            default_currency="USD",
            document_numbering="per_billing_entity",
            document_number_prefix="US",
            billing_configuration=BillingEntityBillingConfiguration(invoice_footer="Acme US Inc., Delaware"),
        )
    )
    assert (created.code, created.is_default, created.invoice_footer) == ("acme_us", False, "Acme US Inc., Delaware")

    found = client.billing_entities.find("acme_us")
    assert found.lago_id == created.lago_id and found.taxes.__root__ == []

    updated = client.billing_entities.update(BillingEntityUpdate(name="Acme America", net_payment_term=30), "acme_us")
    assert (updated.name, updated.net_payment_term, updated.legal_name) == ("Acme America", 30, "Acme US Inc.")
    assert [e.code for e in client.billing_entities.find_all()["billing_entities"]] == [default.code, "acme_us"]

    customer = client.customers.create(Customer(external_id="cus_us", billing_entity_code="acme_us"))
    assert customer.billing_entity_code == "acme_us"

    with pytest.raises(LagoApiError) as invalid:
        client.billing_entities.create(BillingEntity(code="acme_us", name="Again"))
    assert invalid.value.status_code == 422
    assert invalid.value.response["error_details"] == {"code": ["value_already_exist"]}
    with pytest.raises(LagoApiError) as missing:
        client.billing_entities.find("nope")
    assert missing.value.status_code == 404
