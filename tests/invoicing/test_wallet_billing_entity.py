"""Wallets and top-ups choose the entity, the custom sections and the purchase order number of their
credit invoices (Lago's `billing_entity_code`, `invoice_custom_section`, `purchase_order_number` on
POST/PUT /wallets and POST /wallet_transactions; docs/billing-entities.md §3, §4)."""

from __future__ import annotations

import pytest

from invoicing.credits.models import Wallet, WalletTransaction
from invoicing.models import Invoice
from tests.factories.customers import BillingEntityFactory
from tests.factories.invoicing import make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant):
    organization = tenant.organization
    api = tenant.client
    BillingEntityFactory(organization=organization, code="eu", document_numbering="per_billing_entity",
                         document_number_prefix="EU")  # fmt: skip
    for code in ("iban", "legal"):
        section = {"invoice_custom_section": {"code": code, "name": code.upper(), "details": f"{code} text"}}
        assert api.post("/api/v1/invoice_custom_sections", section, format="json").status_code == 200
    customer = make_customer(organization, external_id="cus", currency="USD")
    return {"api": api, "org": organization, "customer": customer}


def _wallet(api, **extra):
    body = {"wallet": {"external_customer_id": "cus", "rate_amount": "1", "currency": "USD", **extra}}
    return api.post("/api/v1/wallets", body, format="json")


def _eu(world) -> object:
    return world["org"].billing_entities.get(code="eu").id


def _sections(invoice_id) -> list[str]:
    return [s["code"] for s in Invoice.objects.get(pk=invoice_id).applied_invoice_custom_sections]


def test_top_up_invoices_follow_the_wallet_then_the_top_up(world):
    api = world["api"]
    response = _wallet(api, paid_credits="10", billing_entity_code="eu", purchase_order_number="PO-W",
                       invoice_custom_section={"invoice_custom_section_codes": ["iban"]})  # fmt: skip
    assert response.status_code == 200, response.content
    wallet = response.json()["wallet"]
    assert wallet["billing_entity_code"] == "eu" and wallet["purchase_order_number"] == "PO-W"
    assert [s["invoice_custom_section"]["code"] for s in wallet["applied_invoice_custom_sections"]] == ["iban"]
    first = Invoice.objects.get(customer=world["customer"])
    assert first.billing_entity_id == _eu(world) and first.number.startswith("EU-")
    assert first.purchase_order_number == "PO-W" and _sections(first.id) == ["iban"]
    # A top-up's own choice wins over its wallet's.
    body = {"wallet_transaction": {"wallet_id": wallet["lago_id"], "paid_credits": "5", "purchase_order_number": "PO-T",
                                   "invoice_custom_section": {"invoice_custom_section_codes": ["legal"]}}}  # fmt: skip
    response = api.post("/api/v1/wallet_transactions", body, format="json")
    assert response.status_code == 200, response.content
    [tx] = response.json()["wallet_transactions"]
    assert tx["purchase_order_number"] == "PO-T"
    invoice = Invoice.objects.get(pk=tx["lago_invoice_id"])
    assert invoice.purchase_order_number == "PO-T" and _sections(invoice.id) == ["legal"]
    assert invoice.billing_entity_id == _eu(world)
    body = {"wallet_transaction": {"wallet_id": wallet["lago_id"], "paid_credits": "5",
                                   "invoice_custom_section": {"skip_invoice_custom_sections": True}}}  # fmt: skip
    [skipped] = api.post("/api/v1/wallet_transactions", body, format="json").json()["wallet_transactions"]
    assert _sections(skipped["lago_invoice_id"]) == []
    assert Invoice.objects.get(pk=skipped["lago_invoice_id"]).purchase_order_number == "PO-W"
    # Lists filter by the wallet's own entity.
    listed = api.get("/api/v1/wallets", {"billing_entity_codes[]": ["eu"]}).json()["wallets"]
    assert [w["lago_id"] for w in listed] == [wallet["lago_id"]]


def test_update_changes_the_wallet_choices(world):
    api = world["api"]
    wallet = _wallet(api, billing_entity_code="eu").json()["wallet"]
    put = {"wallet": {"billing_entity_code": "", "purchase_order_number": "PO-2",
                      "invoice_custom_section": {"invoice_custom_section_codes": ["legal"]}}}  # fmt: skip
    response = api.put(f"/api/v1/wallets/{wallet['lago_id']}", put, format="json")
    assert response.status_code == 200, response.content
    body = response.json()["wallet"]
    assert body["billing_entity_code"] == world["customer"].billing_entity.code
    assert body["purchase_order_number"] == "PO-2"
    assert [s["invoice_custom_section"]["code"] for s in body["applied_invoice_custom_sections"]] == ["legal"]


@pytest.mark.parametrize(
    ("extra", "status", "field"),
    [
        ({"billing_entity_code": "nope"}, 404, "billing_entity_not_found"),
        (
            {"invoice_custom_section": {"invoice_custom_section_codes": ["nope"]}},
            404,
            "invoice_custom_section_not_found",
        ),
        ({"invoice_custom_section": {"skip_invoice_custom_sections": "yes"}}, 422, "invoice_custom_section"),
        ({"purchase_order_number": {"no": 1}}, 422, "purchase_order_number"),
    ],
)
def test_bad_wallet_input_stores_nothing(world, extra, status, field):
    response = _wallet(world["api"], paid_credits="3", **extra)
    assert response.status_code == status, response.content
    body = response.json()
    assert (body["code"] == field) if status == 404 else (field in body["error_details"])
    assert not Wallet.objects.exists() and not Invoice.objects.exists()


def test_bad_top_up_input_stores_nothing(world):
    api = world["api"]
    wallet = _wallet(api).json()["wallet"]
    for extra, status in (
        ({"invoice_custom_section": {"invoice_custom_section_codes": ["nope"]}}, 404),
        ({"invoice_custom_section": ["iban"]}, 422),
    ):
        body = {"wallet_transaction": {"wallet_id": wallet["lago_id"], "paid_credits": "5", **extra}}
        assert api.post("/api/v1/wallet_transactions", body, format="json").status_code == status
    assert not WalletTransaction.objects.exists() and not Invoice.objects.exists()


def test_another_organizations_entity_is_unknown_to_wallets(world, other_tenant):
    make_customer(other_tenant.organization, external_id="cus", currency="USD")
    response = _wallet(other_tenant.client, billing_entity_code="eu")
    assert response.status_code == 404 and response.json()["code"] == "billing_entity_not_found"
    response = _wallet(other_tenant.client, invoice_custom_section={"invoice_custom_section_codes": ["iban"]})
    assert response.status_code == 404
    assert not Wallet.objects.exists()


def test_a_page_of_invoices_of_several_entities_reads_no_entity_per_invoice(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = world["api"]
    wallet = _wallet(api, billing_entity_code="eu").json()["wallet"]
    for _ in range(3):
        body = {"wallet_transaction": {"wallet_id": wallet["lago_id"], "paid_credits": "1"}}
        assert api.post("/api/v1/wallet_transactions", body, format="json").status_code == 200
    api.get("/api/v1/invoices")
    with CaptureQueriesContext(connection) as few:
        one = api.get("/api/v1/invoices", {"per_page": 1, "search_term": "cus"}).json()["invoices"]
    with CaptureQueriesContext(connection) as many:
        three = api.get("/api/v1/invoices", {"per_page": 3, "search_term": "cus"}).json()["invoices"]
    assert [i["billing_entity_code"] for i in three] == ["eu"] * 3 and one[0]["billing_entity_code"] == "eu"
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_recurring_rule_chooses_the_sections_and_purchase_order_of_its_top_ups(world):
    import datetime as dt

    from invoicing.credits.models import RecurringTransactionRule
    from invoicing.credits.services.wallet_rules import wallets_recurring_top_up

    api = world["api"]
    started = "2024-01-01T00:00:00Z"
    rule = {"trigger": "interval", "interval": "monthly", "paid_credits": "2", "started_at": started,
            "purchase_order_number": "PO-R", "invoice_custom_section": {"invoice_custom_section_codes": ["legal"]}}  # fmt: skip
    response = _wallet(api, purchase_order_number="PO-W", recurring_transaction_rules=[rule])
    assert response.status_code == 200, response.content
    [answered] = response.json()["wallet"]["recurring_transaction_rules"]
    assert answered["purchase_order_number"] == "PO-R"
    assert [s["invoice_custom_section"]["code"] for s in answered["applied_invoice_custom_sections"]] == ["legal"]
    wallets_recurring_top_up(dt.datetime(2024, 2, 1, 1, tzinfo=dt.UTC))
    invoice = Invoice.objects.get(customer=world["customer"])
    assert invoice.purchase_order_number == "PO-R" and _sections(invoice.id) == ["legal"]
    bad = dict(rule, invoice_custom_section={"invoice_custom_section_codes": ["nope"]})
    wallet_id = response.json()["wallet"]["lago_id"]
    put = api.put(f"/api/v1/wallets/{wallet_id}", {"wallet": {"recurring_transaction_rules": [bad]}}, format="json")
    assert put.status_code == 404
    assert RecurringTransactionRule.objects.get().purchase_order_number == "PO-R"  # nothing replaced
