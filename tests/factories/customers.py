from __future__ import annotations

import factory

from customers.models import Customer, CustomerMetadata, Organization
from customers.services import api_key_create
from tests.factories import ModelFactory


class OrganizationFactory(ModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    default_currency = "USD"
    timezone = "UTC"
    document_number_prefix = factory.Sequence(lambda n: f"ORG-{n:04d}")


def api_key_for(organization: Organization, name: str = "test") -> str:
    """Create a key for the organization and return its secret."""
    _, raw_key = api_key_create(organization, name=name)
    return raw_key


class CustomerFactory(ModelFactory[Customer]):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    external_id = factory.Sequence(lambda n: f"cust_{n:05d}")
    sequential_id = factory.Sequence(lambda n: n + 1)
    name = factory.Faker("company")
    email = factory.Sequence(lambda n: f"billing{n}@example.test")
    currency = "USD"
    country = "US"


class CustomerMetadataFactory(ModelFactory[CustomerMetadata]):
    class Meta:
        model = CustomerMetadata

    customer = factory.SubFactory(CustomerFactory)
    key = factory.Sequence(lambda n: f"key{n}")
    value = "value"
