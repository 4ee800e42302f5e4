"""Lago's official Python client drives the customers API end to end against a live server."""

from __future__ import annotations

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import Customer, Metadata, MetadataList

pytestmark = pytest.mark.django_db(transaction=True)


def test_customers_with_lago_client(lago):
    client = lago.client
    created = client.customers.create(
        Customer(
            external_id="lc-1",
            name="Lago Client Co",
            currency="USD",
            timezone="America/New_York",
            metadata=MetadataList(__root__=[Metadata(key="crm", value="42", display_in_invoice=True)]),
        )
    )
    assert created.external_id == "lc-1"
    assert created.applicable_timezone == "America/New_York"
    assert created.metadata.__root__[0].key == "crm"

    found = client.customers.find("lc-1")
    assert found.lago_id == created.lago_id

    updated = client.customers.create(Customer(external_id="lc-1", name="Renamed"))
    assert updated.lago_id == created.lago_id
    assert updated.name == "Renamed"

    listing = client.customers.find_all({"per_page": 10})
    assert [c.external_id for c in listing["customers"]] == ["lc-1"]
    assert listing["meta"]["total_count"] == 1

    deleted = client.customers.destroy("lc-1")
    assert deleted.external_id == "lc-1"

    with pytest.raises(LagoApiError) as not_found:
        client.customers.find("lc-1")
    assert not_found.value.status_code == 404

    with pytest.raises(LagoApiError) as invalid:
        client.customers.create(Customer(external_id="lc-2", currency="NOPE"))
    assert invalid.value.status_code == 422
    assert invalid.value.response["error_details"] == {"currency": ["value_is_invalid"]}
