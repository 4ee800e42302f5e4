"""Invoices, credit notes and wallets of billing entities: numbering per entity, `billing_entity_code`,
the `billing_entity_codes[]` filters, the PDF (docs/billing-entities.md §3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from invoicing.billing.run import customer_bill
from invoicing.models import Invoice
from tests.factories.credits import make_one_off_invoice, make_wallet
from tests.factories.customers import BillingEntityFactory
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def world(tenant):
    organization = tenant.organization
    eu = BillingEntityFactory(
        organization=organization, code="eu", document_numbering="per_billing_entity", document_number_prefix="EU",
        legal_name="Acme Europe SAS", tax_identification_number="FR12345678901", address_line1="1 rue de la Paix",
        city="Paris", country="FR", invoice_footer="Acme Europe SAS, RCS Paris 123",
    )  # fmt: skip
    home = make_customer(organization, sequential_id=7)
    first = make_customer(organization, sequential_id=8, billing_entity=eu)
    second = make_customer(organization, sequential_id=9, billing_entity=eu)
    plan = make_plan(organization, amount_cents=1000)
    for customer in (home, first, second):
        subscribe(customer, plan, at(2024, 1, 1))
    return {"eu": eu, "home": home, "first": first, "second": second, "api": tenant.client, "org": organization}


def test_each_entity_numbers_its_own_invoices(world):
    home = world["home"]
    [h1] = customer_bill(home.id, at=at(2024, 2, 1, 1))
    [f1] = customer_bill(world["first"].id, at=at(2024, 2, 1, 1))
    [s1] = customer_bill(world["second"].id, at=at(2024, 2, 1, 1))
    [f2] = customer_bill(world["first"].id, at=at(2024, 3, 1, 1))
    prefix = world["org"].billing_entities.get(is_default=True).document_number_prefix
    assert h1.number == f"{prefix}-007-001"  # the default entity numbers per customer
    assert [f1.number, s1.number, f2.number] == ["EU-202402-001", "EU-202402-002", "EU-202403-003"]
    assert [i.billing_entity_id for i in (f1, s1, f2)] == [world["eu"].id] * 3
    # The organization-wide sequence still counts every invoice.
    ids = sorted(i or 0 for i in Invoice.objects.values_list("organization_sequential_id", flat=True))
    assert ids == [1, 2, 3, 4]
    # An invoice finalized outside the billing run (one-off) takes the next number of its entity.
    one_off = make_one_off_invoice(world["second"], 500)
    assert one_off.number == f"EU-{one_off.issuing_date:%Y%m}-004"


def test_documents_say_their_entity_and_lists_filter_by_it(world):
    api = world["api"]
    customer_bill(world["home"].id, at=at(2024, 2, 1, 1))
    [eu_invoice] = customer_bill(world["first"].id, at=at(2024, 2, 1, 1))
    default_code = world["org"].billing_entities.get(is_default=True).code
    body = api.get(f"/api/v1/invoices/{eu_invoice.id}").json()["invoice"]
    assert body["billing_entity_code"] == "eu" and body["customer"]["billing_entity_code"] == "eu"
    listed = api.get("/api/v1/invoices", {"billing_entity_codes[]": ["eu"]}).json()["invoices"]
    assert [i["lago_id"] for i in listed] == [str(eu_invoice.id)]
    both = api.get("/api/v1/invoices", {"billing_entity_codes[]": ["eu", default_code]}).json()["invoices"]
    assert len(both) == 2
    unknown = api.get("/api/v1/invoices", {"billing_entity_codes[]": ["nope"]})
    assert unknown.status_code == 404 and unknown.json()["code"] == "billing_entity_not_found"

    # The invoice keeps its entity when the customer moves to another one.
    api.post(
        "/api/v1/customers",
        {"customer": {"external_id": world["first"].external_id, "billing_entity_code": default_code}},
        format="json",
    )
    moved = api.get(f"/api/v1/invoices/{eu_invoice.id}").json()["invoice"]
    assert moved["billing_entity_code"] == "eu" and moved["customer"]["billing_entity_code"] == default_code

    fee = eu_invoice.fees.get()
    note = api.post(
        "/api/v1/credit_notes",
        {"credit_note": {"invoice_id": str(eu_invoice.id), "reason": "other", "credit_amount_cents": 100,
                         "items": [{"fee_id": str(fee.id), "amount_cents": 100}]}},
        format="json",
    )  # fmt: skip
    assert note.status_code == 200, note.content
    assert note.json()["credit_note"]["billing_entity_code"] == "eu"
    notes = api.get("/api/v1/credit_notes", {"billing_entity_codes[]": ["eu"]}).json()["credit_notes"]
    assert [n["lago_id"] for n in notes] == [note.json()["credit_note"]["lago_id"]]
    assert api.get("/api/v1/credit_notes", {"billing_entity_codes[]": [default_code]}).json()["credit_notes"] == []


def test_wallets_are_their_customers_entitys(world):
    api = world["api"]
    make_wallet(world["second"], granted="10")
    make_wallet(world["home"], granted="10")
    eu = api.get("/api/v1/wallets", {"billing_entity_codes[]": ["eu"]}).json()["wallets"]
    assert [w["external_customer_id"] for w in eu] == [world["second"].external_id]
    assert eu[0]["billing_entity_code"] == "eu"
    assert api.get("/api/v1/wallets", {"billing_entity_codes[]": ["x"]}).status_code == 404


def test_another_organizations_entity_code_is_unknown_to_the_filters(world, other_tenant):
    response = other_tenant.client.get("/api/v1/invoices", {"billing_entity_codes[]": ["eu"]})
    assert response.status_code == 404


def test_the_pdf_shows_the_entity_that_bills(world, settings, tmp_path):
    from pypdf import PdfReader

    from invoicing.credits.services.documents import credit_note_document
    from invoicing.services.documents import invoice_document, invoice_generate_pdf

    settings.MEDIA_ROOT = tmp_path
    [invoice] = customer_bill(world["first"].id, at=at(2024, 2, 1, 1))
    document = invoice_document(invoice)
    assert document.organization.legal_name == "Acme Europe SAS"
    assert document.organization.tax_identification_number == "FR12345678901"
    assert document.footer == "Acme Europe SAS, RCS Paris 123"
    invoice_generate_pdf(invoice.id, force=True)
    invoice.refresh_from_db()
    with invoice.file.open("rb") as handle:
        text = "".join(page.extract_text() for page in PdfReader(handle).pages)
    for expected in ("Acme Europe SAS", "FR12345678901", "1 rue de la Paix", "RCS Paris 123", "EU-202402-001"):
        assert expected in text, expected
    # The default entity's document is what the organization's was.
    [home] = customer_bill(world["home"].id, at=at(2024, 2, 1, 1))
    assert invoice_document(home).organization.name == world["org"].name

    from invoicing.credits.models import CreditNote

    fee = invoice.fees.get()
    world["api"].post(
        "/api/v1/credit_notes",
        {"credit_note": {"invoice_id": str(invoice.id), "reason": "other", "credit_amount_cents": 100,
                         "items": [{"fee_id": str(fee.id), "amount_cents": 100}]}},
        format="json",
    )  # fmt: skip
    note = CreditNote.objects.get(invoice=invoice)
    assert credit_note_document(note).organization.legal_name == "Acme Europe SAS"


def test_invoice_analytics_filter_by_billing_entity(world):
    from django.utils import timezone

    api = world["api"]
    today = timezone.now().date()
    home = make_one_off_invoice(world["home"], 300)
    eu = make_one_off_invoice(world["first"], 500)
    assert home.issuing_date == eu.issuing_date == today
    rows = api.get("/api/v1/analytics/gross_revenue", {"billing_entity_code": "eu"}).json()["gross_revenues"]
    assert [(r["amount_cents"], r["invoices_count"]) for r in rows if r["currency"]] == [(500, 1)]
    everything = api.get("/api/v1/analytics/gross_revenue").json()["gross_revenues"]
    assert sum(r["amount_cents"] or 0 for r in everything) == 800
    collection = api.get("/api/v1/analytics/invoice_collection", {"billing_entity_code": "eu"}).json()
    assert sum(r["invoices_count"] for r in collection["invoice_collections"]) == 1
    overdue = api.get("/api/v1/analytics/overdue_balance", {"billing_entity_code": "eu"})
    assert overdue.status_code == 200
    missing = api.get("/api/v1/analytics/gross_revenue", {"billing_entity_code": "nope"})
    assert missing.status_code == 404 and missing.json()["code"] == "billing_entity_not_found"
