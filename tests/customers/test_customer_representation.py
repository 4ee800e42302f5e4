"""`customer_payload` renders Lago's customer object with exactly the keys of `CustomerShape`, the
shape the OpenAPI component `CustomerOutput` is derived from, whatever the customer holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from billing_project.core.api.shapes import keys_of
from catalog.models import CustomerTax, Tax
from customers.api.serializers import CustomerOutput
from customers.models import Customer
from customers.representation import BillingConfigurationShape, CustomerShape, customer_payload
from tests.factories.customers import CustomerFactory, CustomerMetadataFactory

pytestmark = pytest.mark.django_db


def _documented(payload: CustomerShape) -> None:
    """The payload has the shape's keys (in the order Lago renders them) and the schema's fields."""
    assert list(payload) == list(CustomerShape.__annotations__)
    assert set(payload) == keys_of(CustomerShape) == set(CustomerOutput().fields)
    assert set(payload["billing_configuration"]) <= keys_of(BillingConfigurationShape)


def _fresh(customer: Customer) -> Customer:
    return Customer.objects.select_related("organization", "billing_entity").get(pk=customer.pk)


def test_bare_customer(organization):
    customer = Customer.objects.create(organization=organization, external_id="bare", sequential_id=1)
    customer = _fresh(customer)
    payload = customer_payload(customer)
    _documented(payload)
    assert set(payload["billing_configuration"]) == {
        "invoice_grace_period", "payment_provider", "payment_provider_code", "document_locale"
    }  # fmt: skip
    assert payload["name"] is None and payload["email"] is None and payload["metadata"] == []
    assert payload["currency"] is None and payload["timezone"] is None and payload["net_payment_term"] is None
    assert payload["customer_type"] is None
    assert payload["applicable_timezone"] == "UTC"


def test_full_customer(organization):
    customer = CustomerFactory(
        organization=organization,
        external_id="full",
        customer_type="company",
        firstname="Ada",
        lastname="Lovelace",
        phone="+33 1 23",
        url="https://example.test",
        legal_name="Ada SAS",
        legal_number="123",
        tax_identification_number="FR123",
        address_line1="1 rue",
        city="Paris",
        zipcode="75001",
        country="FR",
        timezone="Europe/Paris",
        net_payment_term=0,
        invoice_grace_period=3,
        document_locale="fr",
        payment_provider="stripe",
        payment_provider_code="stripe_1",
        provider_customer_id="cus_1",
        provider_settings={"sync": True, "provider_payment_methods": ["card", "sepa_debit"]},
        shipping_address={"address_line1": "2 rue", "country": "FR", "zipcode": None},
        finalize_zero_amount_invoice="skip",
    )
    CustomerMetadataFactory(customer=customer, key="b", value="2", display_in_invoice=True)
    CustomerMetadataFactory(customer=customer, key="a", value="", display_in_invoice=False)
    tax = Tax.objects.create(organization=organization, code="vat", name="VAT", rate="20.5")
    CustomerTax.objects.create(customer=customer, tax=tax)
    customer = _fresh(customer)
    payload = customer_payload(customer)
    _documented(payload)
    assert set(payload["billing_configuration"]) == keys_of(BillingConfigurationShape)
    assert payload["shipping_address"] == {
        "address_line1": "2 rue", "address_line2": None, "city": None, "zipcode": None, "state": None, "country": "FR"
    }  # fmt: skip
    assert payload["metadata"][1]["value"] == "" and payload["metadata"][0]["display_in_invoice"] is True
    assert [m["key"] for m in payload["metadata"]] == ["b", "a"]
    assert payload["taxes"][0]["code"] == "vat"
    assert payload["applicable_timezone"] == "Europe/Paris"
    assert payload["net_payment_term"] == 0
    assert payload["billing_configuration"]["provider_payment_methods"] == ["card", "sepa_debit"]


def test_dates_follow_the_active_timezone_like_drf(organization):
    customer = _fresh(CustomerFactory(organization=organization, external_id="tz"))
    Customer.objects.filter(pk=customer.pk).update(created_at=datetime(2024, 2, 29, 23, 30, tzinfo=UTC))
    customer = _fresh(customer)
    assert customer_payload(customer)["created_at"] == "2024-02-29T23:30:00Z"
    with timezone.override("Asia/Tokyo"):
        assert customer_payload(customer)["created_at"] == "2024-03-01T08:30:00Z"


def test_the_schema_serializer_renders_nothing(organization):
    customer = _fresh(CustomerFactory(organization=organization, external_id="ser"))
    with pytest.raises(TypeError, match="renderer"):
        CustomerOutput(customer).data  # noqa: B018 - the property renders


def test_rows_passed_along_are_not_read_again(organization):
    """`related`: the rows a page read (or a service knows are none) are rendered without a query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    customer = _fresh(CustomerFactory(organization=organization, external_id="rel"))
    entry = CustomerMetadataFactory(customer=customer, key="k", value="v")
    tax = Tax.objects.create(organization=organization, code="vat", name="VAT", rate="20")
    link = CustomerTax.objects.select_related("tax").get(pk=CustomerTax.objects.create(customer=customer, tax=tax).pk)
    with CaptureQueriesContext(connection) as captured:
        payload = customer_payload(customer, related={"metadata": [entry], "tax_links": [link]})
    assert captured.captured_queries == []
    assert payload == customer_payload(_fresh(customer))  # what reading the rows gives
    with CaptureQueriesContext(connection) as captured:
        empty = customer_payload(customer, related={"metadata": [], "tax_links": []})
    assert captured.captured_queries == [] and empty["metadata"] == [] and empty["taxes"] == []
