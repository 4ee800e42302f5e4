"""Billing entities: `/billing_entities`, the default entity, customers' `billing_entity_code`
(docs/billing-entities.md)."""

from __future__ import annotations

import base64

import pytest

from catalog.models import BillingEntityTax, Tax
from customers.entities import billing_entity_create_default
from customers.models import BillingEntity, Customer, Organization
from customers.services import organization_create
from tests.factories.catalog import TaxFactory
from tests.factories.customers import BillingEntityFactory, InvoiceCustomSectionFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 64).decode()


def _entity(**fields):
    return {"billing_entity": {"code": "acme_eu", "name": "Acme EU", **fields}}


def test_an_organization_is_created_with_its_default_entity():
    organization, _ = organization_create("Acme Corp", default_currency="EUR", timezone_name="Europe/Paris")
    entity = BillingEntity.objects.get(organization=organization)
    assert (entity.id, entity.code, entity.name, entity.is_default) == (organization.id, "acme_corp", "Acme Corp", True)
    assert (entity.default_currency, entity.timezone) == ("EUR", "Europe/Paris")
    assert entity.document_number_prefix == organization.document_number_prefix
    # Twice is once.
    assert billing_entity_create_default(organization).pk == entity.pk
    assert BillingEntity.objects.filter(organization=organization).count() == 1


def test_the_default_entity_copies_the_organizations_billing_fields():
    organization = Organization.objects.create(
        name="Legacy",
        legal_name="Legacy SAS",
        tax_identification_number="FR123",
        address_line1="1 rue de la Paix",
        country="FR",
        document_numbering="per_organization",
        document_number_prefix="LEG",
        invoice_footer="Thanks",
        net_payment_term=30,
        invoice_grace_period=3,
    )
    entity = billing_entity_create_default(organization)
    assert (entity.legal_name, entity.tax_identification_number, entity.country) == ("Legacy SAS", "FR123", "FR")
    assert (entity.document_numbering, entity.document_number_prefix) == ("per_billing_entity", "LEG")
    assert (entity.invoice_footer, entity.net_payment_term, entity.invoice_grace_period) == ("Thanks", 30, 3)


def test_list_create_find_update(tenant):
    api = tenant.client
    listed = api.get("/api/v1/billing_entities").json()["billing_entities"]
    assert [(e["is_default"], e["code"]) for e in listed] == [(True, listed[0]["code"])]

    response = api.post(
        "/api/v1/billing_entities",
        _entity(
            legal_name="Acme Europe SARL",
            tax_identification_number="FR999",
            country="fr",
            default_currency="EUR",
            document_numbering="per_billing_entity",
            document_number_prefix="eu",
            email="billing@acme.eu",
            logo=PNG,
            email_settings=["invoice.finalized"],
            billing_configuration={"invoice_footer": "Acme EU, RCS Paris", "invoice_grace_period": 2},
        ),
        format="json",
    )
    assert response.status_code == 200, response.content
    created = response.json()["billing_entity"]
    assert created["is_default"] is False and created["country"] == "FR" and created["document_number_prefix"] == "EU"
    assert created["invoice_footer"] == "Acme EU, RCS Paris" and created["invoice_grace_period"] == 2
    assert created["logo_url"] == PNG and created["email_settings"] == ["invoice.finalized"]
    assert "taxes" not in created  # Lago's create answers the plain object

    TaxFactory(organization=tenant.organization, code="vat_fr", rate="20")
    section = InvoiceCustomSectionFactory(organization=tenant.organization, code="iban")
    response = api.put(
        "/api/v1/billing_entities/acme_eu",
        {"billing_entity": {"name": "Acme Europe", "tax_codes": ["vat_fr"], "invoice_custom_section_codes": ["iban"]}},
        format="json",
    )
    assert response.status_code == 200, response.content
    updated = response.json()["billing_entity"]
    assert updated["name"] == "Acme Europe" and updated["legal_name"] == "Acme Europe SARL"
    assert [t["code"] for t in updated["taxes"]] == ["vat_fr"]
    assert [s["code"] for s in updated["selected_invoice_custom_sections"]] == ["iban"]
    found = api.get("/api/v1/billing_entities/acme_eu").json()["billing_entity"]
    assert found == updated
    entity = BillingEntity.objects.get(code="acme_eu")
    assert list(entity.invoice_custom_sections.all()) == [section]
    # The tax is the entity's, not the organization's.
    assert not Tax.objects.get(code="vat_fr").applied_to_organization
    assert BillingEntityTax.objects.filter(billing_entity=entity).count() == 1

    cleared = api.put(
        "/api/v1/billing_entities/acme_eu",
        {"billing_entity": {"tax_codes": [], "invoice_custom_section_codes": []}},
        format="json",
    ).json()["billing_entity"]
    assert cleared["taxes"] == [] and cleared["selected_invoice_custom_sections"] == []
    assert [e["code"] for e in api.get("/v1/billing_entities").json()["billing_entities"]][1:] == ["acme_eu"]


def test_the_default_entitys_taxes_are_the_organizations(tenant):
    api = tenant.client
    TaxFactory(organization=tenant.organization, code="vat", rate="20")
    default = api.get("/api/v1/billing_entities").json()["billing_entities"][0]["code"]
    response = api.put(f"/api/v1/billing_entities/{default}", {"billing_entity": {"tax_codes": ["vat"]}}, format="json")
    assert [t["code"] for t in response.json()["billing_entity"]["taxes"]] == ["vat"]
    assert Tax.objects.get(code="vat").applied_to_organization


def test_the_default_entity_and_the_organization_say_the_same(tenant):
    api = tenant.client
    default = api.get("/api/v1/billing_entities").json()["billing_entities"][0]["code"]
    api.put(
        "/api/v1/organizations", {"organization": {"legal_name": "Org Legal", "net_payment_term": 15}}, format="json"
    )
    entity = api.get(f"/api/v1/billing_entities/{default}").json()["billing_entity"]
    assert (entity["legal_name"], entity["net_payment_term"]) == ("Org Legal", 15)
    response = api.put(
        f"/api/v1/billing_entities/{default}",
        {"billing_entity": {"legal_name": "Entity Legal", "document_numbering": "per_billing_entity"}},
        format="json",
    )
    assert response.status_code == 200
    organization = api.get("/api/v1/organizations").json()["organization"]
    assert (organization["legal_name"], organization["document_numbering"]) == ("Entity Legal", "per_organization")


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"code": ""}, "code", "value_is_mandatory"),
        ({"name": ""}, "name", "value_is_mandatory"),
        ({"default_currency": "XXX"}, "default_currency", "value_is_invalid"),
        ({"country": "France"}, "country", "value_is_invalid"),
        ({"country": "F1"}, "country", "country_code_invalid"),
        ({"email": "nope"}, "email", "invalid_email_format"),
        ({"timezone": "Mars/Olympus"}, "timezone", "invalid_timezone"),
        ({"document_numbering": "per_planet"}, "document_numbering", "value_is_invalid"),
        ({"document_number_prefix": "ABCDEFGHIJK"}, "document_number_prefix", "value_is_invalid"),
        ({"email_settings": ["invoice.burned"]}, "email_settings", "unsupported_value"),
        ({"logo": "data:text/html;base64,PGI+"}, "logo", "invalid_content_type_or_size"),
        ({"net_payment_term": -1}, "net_payment_term", "value_is_invalid"),
        ({"billing_configuration": {"invoice_footer": "x" * 601}}, "invoice_footer", "value_is_too_long"),
        ({"einvoicing": True}, "einvoicing", "value_is_not_supported"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(tenant, fields, field, code):
    response = tenant.client.post("/api/v1/billing_entities", _entity(**fields), format="json")
    assert response.status_code == 422, response.content
    body = response.json()
    assert (body["status"], body["code"]) == (422, "validation_errors")
    assert code in body["error_details"][field]
    assert BillingEntity.objects.filter(organization=tenant.organization).count() == 1


def test_a_code_is_unique_in_the_organization_and_unknown_codes_are_404(tenant, other_tenant):
    api = tenant.client
    assert api.post("/api/v1/billing_entities", _entity(), format="json").status_code == 200
    again = api.post("/api/v1/billing_entities", _entity(), format="json")
    assert again.status_code == 422 and again.json()["error_details"]["code"] == ["value_already_exist"]
    # Another organization may use the same code.
    assert other_tenant.client.post("/api/v1/billing_entities", _entity(), format="json").status_code == 200
    missing = api.get("/api/v1/billing_entities/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "billing_entity_not_found"
    tax = api.put("/api/v1/billing_entities/acme_eu", {"billing_entity": {"tax_codes": ["nope"]}}, format="json")
    assert tax.status_code == 404 and tax.json()["code"] == "tax_not_found"
    section = api.put(
        "/api/v1/billing_entities/acme_eu", {"billing_entity": {"invoice_custom_section_codes": ["x"]}}, format="json"
    )
    assert section.status_code == 404 and section.json()["code"] == "invoice_custom_section_not_found"
    assert api.post("/api/v1/billing_entities", {}, format="json").status_code == 400


def test_another_organizations_entity_is_a_404(tenant, other_tenant):
    BillingEntityFactory(organization=other_tenant.organization, code="theirs")
    assert tenant.client.get("/api/v1/billing_entities/theirs").status_code == 404
    put = tenant.client.put("/api/v1/billing_entities/theirs", {"billing_entity": {"name": "Mine"}}, format="json")
    assert put.status_code == 404
    assert BillingEntity.objects.get(code="theirs").name != "Mine"
    codes = [e["code"] for e in tenant.client.get("/api/v1/billing_entities").json()["billing_entities"]]
    assert "theirs" not in codes
    customer = tenant.client.post(
        "/api/v1/customers", {"customer": {"external_id": "c1", "billing_entity_code": "theirs"}}, format="json"
    )
    assert customer.status_code == 404 and customer.json()["code"] == "billing_entity_not_found"
    assert not Customer.objects.filter(external_id="c1").exists()


def test_a_customer_belongs_to_the_default_entity_or_the_one_named(tenant):
    api = tenant.client
    default = api.get("/api/v1/billing_entities").json()["billing_entities"][0]["code"]
    BillingEntityFactory(organization=tenant.organization, code="eu")
    plain = api.post("/api/v1/customers", {"customer": {"external_id": "c1"}}, format="json").json()["customer"]
    assert plain["billing_entity_code"] == default
    named = api.post(
        "/api/v1/customers", {"customer": {"external_id": "c2", "billing_entity_code": "eu"}}, format="json"
    ).json()["customer"]
    assert named["billing_entity_code"] == "eu"
    assert api.get("/api/v1/customers/c2").json()["customer"]["billing_entity_code"] == "eu"
    # An update that does not name the entity keeps it; one that names another moves the customer.
    kept = api.post("/api/v1/customers", {"customer": {"external_id": "c2", "name": "Two"}}, format="json")
    assert kept.json()["customer"]["billing_entity_code"] == "eu"
    moved = api.post(
        "/api/v1/customers", {"customer": {"external_id": "c1", "billing_entity_code": "eu"}}, format="json"
    )
    assert moved.json()["customer"]["billing_entity_code"] == "eu"
    back = api.post(
        "/api/v1/customers", {"customer": {"external_id": "c1", "billing_entity_code": None}}, format="json"
    )
    assert back.json()["customer"]["billing_entity_code"] == default
    listed = {c["external_id"]: c["billing_entity_code"] for c in api.get("/api/v1/customers").json()["customers"]}
    assert listed == {"c1": default, "c2": "eu"}


def test_a_customer_row_without_an_entity_reads_as_the_default_one(tenant):
    customer = Customer.objects.create(organization=tenant.organization, external_id="raw", sequential_id=99)
    assert customer.billing_entity_id is None
    body = tenant.client.get("/api/v1/customers/raw").json()["customer"]
    assert body["billing_entity_code"] == BillingEntity.objects.get(organization=tenant.organization).code


def test_an_organization_without_entities_gets_its_default_on_first_need():
    organization = Organization.objects.create(name="Bare")
    from customers.inputs import CustomerUpsert
    from customers.services import customer_upsert

    customer, _ = customer_upsert(organization, CustomerUpsert(external_id="x"))
    assert customer.billing_entity is not None and customer.billing_entity.is_default
    assert customer.billing_entity_id == organization.id


def test_the_first_entity_created_by_hand_is_the_default(tenant):
    BillingEntity.objects.filter(organization=tenant.organization).delete()
    created = tenant.client.post("/api/v1/billing_entities", _entity(), format="json").json()["billing_entity"]
    assert created["is_default"] is True


def test_read_only_keys_may_list_but_not_create(tenant):
    from rest_framework.test import APIClient

    from billing_project.core.api.permissions import read_only_permissions
    from customers.services import api_key_create

    _, raw = api_key_create(tenant.organization, permissions=read_only_permissions())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/billing_entities").status_code == 200
    assert client.post("/api/v1/billing_entities", _entity(), format="json").status_code == 403


def test_factories_give_every_organization_its_default():
    organization = OrganizationFactory()
    assert BillingEntity.objects.filter(organization=organization, is_default=True).count() == 1


def test_a_tax_names_the_entities_it_applies_to(tenant):
    api = tenant.client
    TaxFactory(organization=tenant.organization, code="vat", rate="20")
    default = api.get("/api/v1/billing_entities").json()["billing_entities"][0]["code"]
    api.post("/api/v1/billing_entities", _entity(), format="json")
    assert api.get("/api/v1/taxes/vat").json()["tax"]["applied_to_billing_entities_codes"] == []
    api.put("/api/v1/billing_entities/acme_eu", {"billing_entity": {"tax_codes": ["vat"]}}, format="json")
    api.put(f"/api/v1/billing_entities/{default}", {"billing_entity": {"tax_codes": ["vat"]}}, format="json")
    assert api.get("/api/v1/taxes/vat").json()["tax"]["applied_to_billing_entities_codes"] == sorted(
        ["acme_eu", default]
    )
