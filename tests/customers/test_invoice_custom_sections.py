"""`/invoice_custom_sections`: CRUD in Lago's object shape, chosen per billing entity
(docs/billing-entities.md §4)."""

from __future__ import annotations

import pytest

from customers.models import BillingEntityInvoiceCustomSection, InvoiceCustomSection

pytestmark = pytest.mark.django_db

SECTION = {"invoice_custom_section": {"code": "iban", "name": "EU bank", "display_name": "Bank details",
                                      "details": "IBAN FR76 3000 4000", "description": "for EU customers"}}  # fmt: skip


def test_create_list_find_update_delete(tenant):
    api = tenant.client
    created = api.post("/api/v1/invoice_custom_sections", SECTION, format="json")
    assert created.status_code == 200, created.content
    body = created.json()["invoice_custom_section"]
    assert (body["code"], body["display_name"], body["details"]) == ("iban", "Bank details", "IBAN FR76 3000 4000")
    assert body["applied_to_organization"] is False and body["organization_id"] == str(tenant.organization.id)
    page = api.get("/api/v1/invoice_custom_sections").json()
    assert [s["code"] for s in page["invoice_custom_sections"]] == ["iban"] and page["meta"]["total_count"] == 1
    assert api.get("/api/v1/invoice_custom_sections/iban").json()["invoice_custom_section"] == body
    updated = api.put(
        "/api/v1/invoice_custom_sections/iban",
        {"invoice_custom_section": {"details": "IBAN DE89", "applied_to_organization": True}},
        format="json",
    ).json()["invoice_custom_section"]
    assert updated["details"] == "IBAN DE89" and updated["applied_to_organization"] is True
    # `applied_to_organization` (Lago, deprecated) selects it on the default billing entity.
    default = api.get("/api/v1/billing_entities").json()["billing_entities"][0]["code"]
    entity = api.get(f"/api/v1/billing_entities/{default}").json()["billing_entity"]
    assert [s["code"] for s in entity["selected_invoice_custom_sections"]] == ["iban"]
    deleted = api.delete("/api/v1/invoice_custom_sections/iban")
    assert deleted.status_code == 200 and deleted.json()["invoice_custom_section"]["code"] == "iban"
    assert api.get("/api/v1/invoice_custom_sections/iban").status_code == 404
    assert not BillingEntityInvoiceCustomSection.objects.exists()
    # A deleted section's code may be used again.
    assert api.post("/api/v1/invoice_custom_sections", SECTION, format="json").status_code == 200


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [({"code": ""}, "code", "value_is_mandatory"), ({"name": ""}, "name", "value_is_mandatory")],
)
def test_bad_input_is_a_422_and_stores_nothing(tenant, fields, field, code):
    body = {"invoice_custom_section": {**SECTION["invoice_custom_section"], **fields}}
    response = tenant.client.post("/api/v1/invoice_custom_sections", body, format="json")
    assert response.status_code == 422 and code in response.json()["error_details"][field]
    assert not InvoiceCustomSection.objects.exists()


def test_a_code_in_use_is_refused(tenant):
    api = tenant.client
    api.post("/api/v1/invoice_custom_sections", SECTION, format="json")
    again = api.post("/api/v1/invoice_custom_sections", SECTION, format="json")
    assert again.status_code == 422 and again.json()["error_details"]["code"] == ["value_already_exist"]


def test_another_organizations_section_is_a_404(tenant, other_tenant):
    other_tenant.client.post("/api/v1/invoice_custom_sections", SECTION, format="json")
    api = tenant.client
    assert api.get("/api/v1/invoice_custom_sections/iban").status_code == 404
    put = api.put("/api/v1/invoice_custom_sections/iban", {"invoice_custom_section": {"name": "x"}}, format="json")
    assert put.status_code == 404
    assert api.delete("/api/v1/invoice_custom_sections/iban").status_code == 404
    assert api.get("/api/v1/invoice_custom_sections").json()["invoice_custom_sections"] == []
    assert InvoiceCustomSection.live.get(code="iban").name == "EU bank"


def test_customers_choose_their_sections_and_invoices_print_them(tenant, settings, tmp_path):
    from datetime import UTC, datetime

    from pypdf import PdfReader

    from invoicing.billing.run import customer_bill
    from invoicing.services.documents import invoice_generate_pdf
    from tests.factories.invoicing import make_plan, subscribe

    settings.MEDIA_ROOT = tmp_path
    api = tenant.client
    api.post("/api/v1/invoice_custom_sections", SECTION, format="json")
    legal = {"invoice_custom_section": {"code": "legal", "name": "Legal", "display_name": "Legal mentions",
                                        "details": "Late payment penalty: 40 EUR"}}  # fmt: skip
    api.post("/api/v1/invoice_custom_sections", legal, format="json")
    default = api.get("/api/v1/billing_entities").json()["billing_entities"][0]["code"]
    api.put(
        f"/api/v1/billing_entities/{default}",
        {"billing_entity": {"invoice_custom_section_codes": ["iban"]}},
        format="json",
    )
    for external_id, extra in (
        ("entity", {}),
        ("own", {"invoice_custom_section_codes": ["legal"]}),
        ("skip", {"skip_invoice_custom_sections": True}),
    ):
        response = api.post("/api/v1/customers", {"customer": {"external_id": external_id, **extra}}, format="json")
        assert response.status_code == 200, response.content
    assert api.get("/api/v1/customers/skip").json()["customer"]["skip_invoice_custom_sections"] is True
    unknown = api.post(
        "/api/v1/customers", {"customer": {"external_id": "x", "invoice_custom_section_codes": ["nope"]}}, format="json"
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "invoice_custom_section_not_found"

    from customers.models import Customer

    plan = make_plan(tenant.organization, amount_cents=1000)
    printed = {}
    for external_id in ("entity", "own", "skip"):
        customer = Customer.objects.get(external_id=external_id)
        subscribe(customer, plan, datetime(2024, 1, 1, tzinfo=UTC))
        [invoice] = customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
        body = api.get(f"/api/v1/invoices/{invoice.id}").json()["invoice"]
        printed[external_id] = [
            (s["code"], s["display_name"], s["details"]) for s in body["applied_invoice_custom_sections"]
        ]
        if external_id == "own":
            assert body["applied_invoice_custom_sections"][0]["lago_invoice_id"] == str(invoice.id)
            invoice_generate_pdf(invoice.id, force=True)
            invoice.refresh_from_db()
            with invoice.file.open("rb") as handle:
                text = "".join(page.extract_text() for page in PdfReader(handle).pages)
            assert "Legal mentions" in text and "Late payment penalty: 40 EUR" in text
    assert printed == {
        "entity": [("iban", "Bank details", "IBAN FR76 3000 4000")],
        "own": [("legal", "Legal mentions", "Late payment penalty: 40 EUR")],
        "skip": [],
    }
    # An issued invoice keeps the text it printed.
    api.put("/api/v1/invoice_custom_sections/iban", {"invoice_custom_section": {"details": "changed"}}, format="json")
    entity_invoice = Customer.objects.get(external_id="entity").invoices.get()
    again = api.get(f"/api/v1/invoices/{entity_invoice.id}").json()["invoice"]["applied_invoice_custom_sections"]
    assert again[0]["details"] == "IBAN FR76 3000 4000"
    # Clearing the customer's own choice falls back to its entity's.
    api.post(
        "/api/v1/customers", {"customer": {"external_id": "own", "invoice_custom_section_codes": []}}, format="json"
    )
    from customers.entities import customer_sections

    assert [s.code for s in customer_sections(Customer.objects.get(external_id="own"))] == ["iban"]


def _codes(body: dict) -> list[str]:
    return [section["code"] for section in body["customer"]["applicable_invoice_custom_sections"]]


def test_the_customer_answers_its_applicable_sections(tenant):
    api = tenant.client
    api.post("/api/v1/invoice_custom_sections", SECTION, format="json")
    legal = {"invoice_custom_section": {"code": "legal", "name": "Legal", "details": "Penalty 40 EUR"}}
    api.post("/api/v1/invoice_custom_sections", legal, format="json")
    api.post("/api/v1/billing_entities", {"billing_entity": {"code": "us", "name": "Acme Inc"}}, format="json")
    api.put(
        "/api/v1/billing_entities/us", {"billing_entity": {"invoice_custom_section_codes": ["legal"]}}, format="json"
    )

    def post(customer: dict) -> dict:
        response = api.post("/api/v1/customers", {"customer": customer}, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    assert _codes(post({"external_id": "plain"})) == []  # the default entity selected none
    created = post({"external_id": "c", "billing_entity_code": "us"})
    assert _codes(created) == ["legal"]  # its entity's
    [section] = created["customer"]["applicable_invoice_custom_sections"]
    assert section == {
        "lago_id": section["lago_id"], "code": "legal", "name": "Legal", "description": None,
        "details": "Penalty 40 EUR", "display_name": None, "organization_id": str(tenant.organization.id),
    }  # fmt: skip
    assert _codes(api.get("/api/v1/customers/c").json()) == ["legal"]
    assert _codes(post({"external_id": "c", "invoice_custom_section_codes": ["iban", "legal"]})) == ["iban", "legal"]
    assert _codes(post({"external_id": "c", "name": "renamed"})) == ["iban", "legal"]  # its own, kept
    assert _codes(post({"external_id": "c", "invoice_custom_section_codes": []})) == ["legal"]  # its entity's again
    skipped = post({"external_id": "c", "skip_invoice_custom_sections": True})
    assert _codes(skipped) == [] and skipped["customer"]["skip_invoice_custom_sections"] is True
    assert _codes(api.get("/api/v1/customers/c").json()) == []
    # Choosing sections stops skipping them (Lago).
    chosen = post({"external_id": "c", "invoice_custom_section_codes": ["iban"]})
    assert _codes(chosen) == ["iban"] and chosen["customer"]["skip_invoice_custom_sections"] is False
    # Skipping drops the customer's own choice.
    post({"external_id": "c", "skip_invoice_custom_sections": True})
    assert _codes(post({"external_id": "c", "skip_invoice_custom_sections": False})) == ["legal"]
    # Moving to the default entity: its sections (none).
    assert _codes(post({"external_id": "c", "billing_entity_code": None})) == []
    # Lists leave them empty, as Lago's lists leave them out.
    assert all(c["applicable_invoice_custom_sections"] == [] for c in api.get("/api/v1/customers").json()["customers"])


def test_skipping_and_choosing_sections_at_once_is_refused(tenant):
    api = tenant.client
    api.post("/api/v1/invoice_custom_sections", SECTION, format="json")
    body = {
        "customer": {"external_id": "c", "skip_invoice_custom_sections": True, "invoice_custom_section_codes": ["iban"]}
    }
    response = api.post("/api/v1/customers", body, format="json")
    assert response.status_code == 422
    assert response.json()["error_details"] == {
        "invoice_custom_sections": ["skip_sections_and_selected_ids_sent_together"]
    }
    assert api.get("/api/v1/customers/c").status_code == 404


def test_another_organizations_section_code_chooses_nothing(tenant, other_tenant):
    tenant.client.post("/api/v1/invoice_custom_sections", SECTION, format="json")
    body = {"customer": {"external_id": "c", "invoice_custom_section_codes": ["iban"]}}
    response = other_tenant.client.post("/api/v1/customers", body, format="json")
    assert response.status_code == 404 and response.json()["code"] == "invoice_custom_section_not_found"
    assert other_tenant.client.get("/api/v1/customers/c").status_code == 404
