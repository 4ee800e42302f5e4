"""A subscription's own billing entity, invoice custom sections and purchase order number
(Lago's `billing_entity_code`, `invoice_custom_section`, `purchase_order_number` on
POST/PUT /subscriptions): a billing day splits the customer's invoice by entity and purchase order
number, each invoice is numbered and headed by its entity and prints the sections chosen
(docs/billing-entities.md §3, §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from customers.section_choice import SectionChoice, invoice_sections, one_off_sections
from invoicing.billing.run import customer_bill
from invoicing.models import Invoice
from subscriptions.models import Subscription
from tests.factories.customers import BillingEntityFactory
from tests.factories.invoicing import make_customer, make_plan

pytestmark = pytest.mark.django_db


MONTH_START = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
# An hour into next month: this month's period (the first one billed) has ended.
BILLING_DAY = (MONTH_START + timedelta(days=32)).replace(day=1, hour=1)


@pytest.fixture
def world(tenant):
    organization = tenant.organization
    api = tenant.client
    eu = BillingEntityFactory(organization=organization, code="eu", document_numbering="per_billing_entity",
                              document_number_prefix="EU", legal_name="Acme Europe SAS")  # fmt: skip
    for code, name in (("iban", "Bank details"), ("legal", "Legal mentions")):
        section = {"invoice_custom_section": {"code": code, "name": name, "details": f"{name} text"}}
        assert api.post("/api/v1/invoice_custom_sections", section, format="json").status_code == 200
    customer = make_customer(organization, external_id="cus", currency="USD")
    plan = make_plan(organization, amount_cents=1000, code="basic")
    return {"api": api, "org": organization, "eu": eu, "customer": customer, "plan": plan}


def _subscribe(api, external_id: str, **extra) -> dict:
    body = {"subscription": {"external_customer_id": "cus", "plan_code": "basic", "external_id": external_id,
                             "subscription_at": MONTH_START.isoformat(), **extra}}  # fmt: skip
    response = api.post("/api/v1/subscriptions", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["subscription"]


def test_a_billing_day_splits_the_invoice_by_entity_and_purchase_order(world):
    api = world["api"]
    home = _subscribe(api, "home")
    assert home["billing_entity_code"] == world["customer"].billing_entity.code
    assert home["purchase_order_number"] is None and home["applied_invoice_custom_sections"] == []
    eu = _subscribe(
        api, "eu_1", billing_entity_code="eu", purchase_order_number="PO-7",
        invoice_custom_section={"invoice_custom_section_codes": ["iban"]},
    )  # fmt: skip
    assert eu["billing_entity_code"] == "eu" and eu["purchase_order_number"] == "PO-7"
    [applied] = eu["applied_invoice_custom_sections"]
    assert applied["invoice_custom_section"]["code"] == "iban" and applied["invoice_custom_section_id"]
    _subscribe(api, "eu_2", billing_entity_code="eu", purchase_order_number="PO-7",
               invoice_custom_section={"invoice_custom_section_codes": ["legal"]})  # fmt: skip
    _subscribe(api, "eu_other_po", billing_entity_code="eu", purchase_order_number="PO-8")

    invoices = customer_bill(world["customer"].id, at=BILLING_DAY)
    by_subs = {
        tuple(sorted(inv.invoice_subscriptions.values_list("subscription__external_id", flat=True))): inv
        for inv in invoices
    }
    assert set(by_subs) == {("home",), ("eu_1", "eu_2"), ("eu_other_po",)}
    eu_invoice = by_subs[("eu_1", "eu_2")]
    body = api.get(f"/api/v1/invoices/{eu_invoice.id}").json()["invoice"]
    assert body["billing_entity_code"] == "eu" and body["purchase_order_number"] == "PO-7"
    assert body["number"].startswith("EU-")
    # The union of what its subscriptions chose.
    assert [s["code"] for s in body["applied_invoice_custom_sections"]] == ["iban", "legal"]
    other = api.get(f"/api/v1/invoices/{by_subs[('eu_other_po',)].id}").json()["invoice"]
    assert other["billing_entity_code"] == "eu" and other["purchase_order_number"] == "PO-8"
    assert other["applied_invoice_custom_sections"] == []  # the customer's (none)
    home_invoice = api.get(f"/api/v1/invoices/{by_subs[('home',)].id}").json()["invoice"]
    assert home_invoice["billing_entity_code"] == world["customer"].billing_entity.code
    assert home_invoice["purchase_order_number"] is None
    # The list filters by the entity of each invoice.
    listed = api.get("/api/v1/invoices", {"billing_entity_codes[]": ["eu"]}).json()["invoices"]
    assert {i["lago_id"] for i in listed} == {str(eu_invoice.id), str(by_subs[("eu_other_po",)].id)}


def test_update_changes_the_entity_sections_and_purchase_order(world):
    api = world["api"]
    _subscribe(api, "sub", billing_entity_code="eu", invoice_custom_section={"invoice_custom_section_codes": ["iban"]})
    put = {
        "subscription": {
            "purchase_order_number": "PO-9",
            "invoice_custom_section": {"skip_invoice_custom_sections": True},
        }
    }
    body = api.put("/api/v1/subscriptions/sub", put, format="json").json()["subscription"]
    assert body["purchase_order_number"] == "PO-9" and body["applied_invoice_custom_sections"] == []
    assert body["billing_entity_code"] == "eu"
    sub = Subscription.objects.get(external_id="sub")
    assert sub.skip_invoice_custom_sections is True
    # null codes with skip null: a skipping subscription keeps skipping (Lago).
    api.put(
        "/api/v1/subscriptions/sub",
        {"subscription": {"invoice_custom_section": {"invoice_custom_section_codes": ["legal"]}}},
        format="json",
    )
    sub.refresh_from_db()
    assert sub.skip_invoice_custom_sections is True
    again = {"subscription": {"billing_entity_code": None,
                              "invoice_custom_section": {"skip_invoice_custom_sections": False, "invoice_custom_section_codes": ["legal"]}}}  # fmt: skip
    body = api.put("/api/v1/subscriptions/sub", again, format="json").json()["subscription"]
    assert body["billing_entity_code"] == world["customer"].billing_entity.code
    assert [s["invoice_custom_section"]["code"] for s in body["applied_invoice_custom_sections"]] == ["legal"]
    [invoice] = customer_bill(world["customer"].id, at=BILLING_DAY)
    assert invoice.billing_entity_id == world["customer"].billing_entity_id
    assert [s["code"] for s in Invoice.objects.get(pk=invoice.pk).applied_invoice_custom_sections] == ["legal"]


def test_a_skipping_subscription_prints_no_section_even_when_its_entity_selects_some(world):
    api = world["api"]
    api.put(
        "/api/v1/billing_entities/eu", {"billing_entity": {"invoice_custom_section_codes": ["legal"]}}, format="json"
    )
    _subscribe(api, "skip", billing_entity_code="eu", invoice_custom_section={"skip_invoice_custom_sections": True})
    [invoice] = customer_bill(world["customer"].id, at=BILLING_DAY)
    assert invoice.applied_invoice_custom_sections == []
    assert invoice.billing_entity_id == world["eu"].id


@pytest.mark.parametrize(
    ("extra", "status", "code"),
    [
        ({"billing_entity_code": "nope"}, 404, "billing_entity_not_found"),
        (
            {"invoice_custom_section": {"invoice_custom_section_codes": ["nope"]}},
            404,
            "invoice_custom_section_not_found",
        ),
        ({"invoice_custom_section": {"invoice_custom_section_codes": "iban"}}, 422, "validation_errors"),
        ({"invoice_custom_section": "iban"}, 422, "validation_errors"),
        ({"purchase_order_number": "x" * 256}, 422, "validation_errors"),
    ],
)
def test_bad_input_stores_nothing(world, extra, status, code):
    body = {"subscription": {"external_customer_id": "new_customer", "plan_code": "basic", "external_id": "s", **extra}}
    response = world["api"].post("/api/v1/subscriptions", body, format="json")
    assert response.status_code == status and response.json()["code"] == code, response.content
    if status == 422:
        [field] = response.json()["error_details"]
        assert field.split(".")[0] in extra
    assert not Subscription.objects.exists()
    assert world["api"].get("/api/v1/customers/new_customer").status_code == 404


def test_another_organizations_entity_and_sections_are_unknown(world, other_tenant):
    api = other_tenant.client
    make_plan(other_tenant.organization, amount_cents=500, code="basic")
    for extra, code in (
        ({"billing_entity_code": "eu"}, "billing_entity_not_found"),
        ({"invoice_custom_section": {"invoice_custom_section_codes": ["iban"]}}, "invoice_custom_section_not_found"),
    ):
        body = {"subscription": {"external_customer_id": "c", "plan_code": "basic", "external_id": "s", **extra}}
        response = api.post("/api/v1/subscriptions", body, format="json")
        assert response.status_code == 404 and response.json()["code"] == code
    assert not Subscription.objects.filter(organization=other_tenant.organization).exists()
    # Updating one of its own subscriptions with the other organization's code changes nothing.
    api.post("/api/v1/subscriptions", {"subscription": {"external_customer_id": "c", "plan_code": "basic",
                                                        "external_id": "s"}}, format="json")  # fmt: skip
    response = api.put("/api/v1/subscriptions/s", {"subscription": {"billing_entity_code": "eu"}}, format="json")
    assert response.status_code == 404
    assert Subscription.objects.get(organization=other_tenant.organization).billing_entity_id is None


def test_a_new_customer_is_created_in_the_entity_named(world):
    body = {"subscription": {"external_customer_id": "fresh", "plan_code": "basic", "external_id": "f",
                             "billing_entity_code": "eu"}}  # fmt: skip
    assert world["api"].post("/api/v1/subscriptions", body, format="json").status_code == 200
    assert world["api"].get("/api/v1/customers/fresh").json()["customer"]["billing_entity_code"] == "eu"


def test_the_rule_that_merges_the_choices_of_an_invoice():
    none, skip = SectionChoice(), SectionChoice(skip=True)
    a, b = SectionChoice(section_ids=("a",)), SectionChoice(section_ids=("b",))
    assert invoice_sections([]).fields() == {"invoice_custom_section_ids": [], "with_customer_sections": True}
    assert invoice_sections([skip, skip]).fields() == {
        "invoice_custom_section_ids": [],
        "with_customer_sections": False,
    }
    assert invoice_sections([skip, none]).with_customer is True
    assert invoice_sections([a, b, skip]).fields() == {
        "invoice_custom_section_ids": ["a", "b"],
        "with_customer_sections": False,
    }
    assert invoice_sections([a, none]).fields() == {"invoice_custom_section_ids": ["a"], "with_customer_sections": True}
    assert one_off_sections(a).with_customer is False and one_off_sections(skip).section_ids == ()
    assert one_off_sections(None).with_customer is True and one_off_sections(none).with_customer is True


def _one_off(world, **extra) -> Any:
    from catalog.models import AddOn

    AddOn.objects.get_or_create(organization=world["org"], code="setup", defaults={"name": "Setup", "amount_cents": 500,
                                                                                    "amount_currency": "USD"})  # fmt: skip
    body = {"invoice": {"external_customer_id": "cus", "currency": "USD", "fees": [{"add_on_code": "setup"}], **extra}}
    return world["api"].post("/api/v1/invoices", body, format="json")


def test_a_one_off_invoice_takes_the_entity_and_sections_given(world, settings, tmp_path):
    from pypdf import PdfReader

    from invoicing.services.documents import invoice_generate_pdf

    api = world["api"]
    api.put(
        "/api/v1/billing_entities/eu", {"billing_entity": {"invoice_custom_section_codes": ["legal"]}}, format="json"
    )
    response = _one_off(world, billing_entity_code="eu", purchase_order_number="PO-1",
                        invoice_custom_section={"invoice_custom_section_codes": ["iban"]})  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()["invoice"]
    assert body["billing_entity_code"] == "eu" and body["number"].startswith("EU-")
    assert body["purchase_order_number"] == "PO-1"
    assert [s["code"] for s in body["applied_invoice_custom_sections"]] == ["iban"]  # only those given
    settings.MEDIA_ROOT = tmp_path
    invoice = Invoice.objects.get(pk=body["lago_id"])
    invoice_generate_pdf(invoice.id, force=True)
    invoice.refresh_from_db()
    with invoice.file.open("rb") as handle:
        text = "".join(page.extract_text() for page in PdfReader(handle).pages)
    assert "Acme Europe SAS" in text and "Bank details text" in text and "PO-1" in text
    skipped = _one_off(world, invoice_custom_section={"skip_invoice_custom_sections": True}).json()["invoice"]
    assert skipped["applied_invoice_custom_sections"] == []
    assert skipped["billing_entity_code"] == world["customer"].billing_entity.code
    # The customer moved to the entity: its sections apply when none are given.
    api.post("/api/v1/customers", {"customer": {"external_id": "cus", "billing_entity_code": "eu"}}, format="json")
    plain = _one_off(world).json()["invoice"]
    assert plain["billing_entity_code"] == "eu"
    assert [s["code"] for s in plain["applied_invoice_custom_sections"]] == ["legal"]


def test_a_one_off_invoice_with_an_unknown_entity_or_section_stores_nothing(world, other_tenant):
    before = Invoice.objects.count()
    response = _one_off(world, billing_entity_code="nope")
    assert response.status_code == 404 and response.json()["code"] == "billing_entity_not_found"
    response = _one_off(world, invoice_custom_section={"invoice_custom_section_codes": ["nope"]})
    assert response.status_code == 404 and response.json()["code"] == "invoice_custom_section_not_found"
    response = _one_off(world, billing_entity_code=["eu"])
    assert response.status_code == 422 and "billing_entity_code" in response.json()["error_details"]
    assert Invoice.objects.count() == before
    # Another organization cannot bill through this one's entity.
    make_customer(other_tenant.organization, external_id="cus", currency="USD")
    from catalog.models import AddOn

    AddOn.objects.create(
        organization=other_tenant.organization, code="setup", name="S", amount_cents=1, amount_currency="USD"
    )
    body = {"invoice": {"external_customer_id": "cus", "fees": [{"add_on_code": "setup"}], "billing_entity_code": "eu"}}
    response = other_tenant.client.post("/api/v1/invoices", body, format="json")
    assert response.status_code == 404 and Invoice.objects.count() == before


def test_the_preview_bills_the_new_subscription_through_the_entity_named(world):
    api = world["api"]
    body = {"customer": {"external_id": "cus"}, "plan_code": "basic", "billing_entity_code": "eu"}
    response = api.post("/api/v1/invoices/preview", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["invoice"]["billing_entity_code"] == "eu"
    unknown = api.post("/api/v1/invoices/preview", {**body, "billing_entity_code": "nope"}, format="json")
    assert unknown.status_code == 404 and unknown.json()["code"] == "billing_entity_not_found"
    bad = api.post("/api/v1/invoices/preview", {**body, "billing_entity_code": 3}, format="json")
    assert bad.status_code == 422 and bad.json()["error_details"] == {"billing_entity_code": ["value_is_invalid"]}
    assert not Invoice.objects.exists() and not Subscription.objects.exists()
