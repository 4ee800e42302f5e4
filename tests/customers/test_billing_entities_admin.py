"""The finance console manages billing entities and invoice custom sections through the services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from customers.models import BillingEntity, InvoiceCustomSection

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    return client


def _entity_form(organization, **fields):
    return {
        "organization": str(organization.pk), "code": "eu", "name": "Acme EU", "legal_name": "Acme EU SAS",
        "country": "FR", "default_currency": "EUR", "timezone": "Europe/Paris", "document_numbering": "per_customer",
        "document_number_prefix": "EU", "finalize_zero_amount_invoice": "on", "net_payment_term": "30",
        "invoice_grace_period": "0", "document_locale": "fr", "email_settings": "[]", "logo": "",
        "invoice_footer": "Acme EU SAS, RCS Paris", **fields,
    }  # fmt: skip


def test_an_entity_is_created_and_changed_through_the_services(admin_client, organization):
    response = admin_client.post("/admin/customers/billingentity/add/", _entity_form(organization))
    assert response.status_code == 302, response.content.decode()[:2000]
    entity = BillingEntity.objects.get(organization=organization, code="eu")
    assert (entity.legal_name, entity.net_payment_term, entity.is_default) == ("Acme EU SAS", 30, False)
    response = admin_client.post(
        f"/admin/customers/billingentity/{entity.pk}/change/", _entity_form(organization, name="Acme Europe")
    )
    assert response.status_code == 302
    entity.refresh_from_db()
    assert entity.name == "Acme Europe"
    assert admin_client.get("/admin/customers/billingentity/").status_code == 200


def test_the_console_shows_the_services_refusal(admin_client, organization):
    response = admin_client.post("/admin/customers/billingentity/add/", _entity_form(organization, country="F1"))
    assert response.status_code == 200 and b"country_code_invalid" in response.content
    assert not BillingEntity.objects.filter(code="eu").exists()


def test_sections_are_created_and_deleted_softly(admin_client, organization):
    form = {"organization": str(organization.pk), "code": "iban", "name": "Bank", "display_name": "Bank details",
            "details": "IBAN FR76", "description": ""}  # fmt: skip
    assert admin_client.post("/admin/customers/invoicecustomsection/add/", form).status_code == 302
    section = InvoiceCustomSection.objects.get(code="iban")
    response = admin_client.post(f"/admin/customers/invoicecustomsection/{section.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    section.refresh_from_db()
    assert section.deleted_at is not None
