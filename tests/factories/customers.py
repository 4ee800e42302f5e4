from __future__ import annotations

from typing import cast

import factory

from customers.entities import billing_entity_create_default, default_billing_entity
from customers.models import BillingEntity, Customer, CustomerMetadata, InvoiceCustomSection, Organization
from customers.services import api_key_create
from tests.factories import ModelFactory


class OrganizationFactory(ModelFactory[Organization]):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Org {n}")
    default_currency = "USD"
    timezone = "UTC"
    document_number_prefix = factory.Sequence(lambda n: f"ORG-{n:04d}")

    @factory.post_generation
    def default_entity(self, create: bool, extracted: object, **kwargs: object) -> None:
        """Every organization has its default billing entity (`organization_create` makes it)."""
        if create:
            billing_entity_create_default(cast(Organization, self))


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
    billing_entity = factory.LazyAttribute(lambda o: default_billing_entity(o.organization))


class BillingEntityFactory(ModelFactory[BillingEntity]):
    class Meta:
        model = BillingEntity

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"entity_{n}")
    name = factory.Sequence(lambda n: f"Entity {n}")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} Ltd")
    document_number_prefix = factory.Sequence(lambda n: f"ENT{n:04d}"[:10])


class InvoiceCustomSectionFactory(ModelFactory[InvoiceCustomSection]):
    class Meta:
        model = InvoiceCustomSection

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"section_{n}")
    name = factory.Sequence(lambda n: f"Section {n}")
    display_name = "Bank details"
    details = "IBAN FR76 3000 4000 0312 3456 7890 143"


class CustomerMetadataFactory(ModelFactory[CustomerMetadata]):
    class Meta:
        model = CustomerMetadata

    customer = factory.SubFactory(CustomerFactory)
    key = factory.Sequence(lambda n: f"key{n}")
    value = "value"
