"""Credit notes API (docs/credits.md): create, estimate, list, update, void, download, tenant 404s."""

from __future__ import annotations

import pytest

from tests.factories.credits import make_credit_note, make_one_off_invoice
from tests.factories.invoicing import make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _invoice(organization):
    customer = make_customer(organization, currency="USD")
    invoice = make_one_off_invoice(customer, 2000)
    return customer, invoice, invoice.fees.get()


def test_create_list_update_void_download(api, organization):
    customer, invoice, fee = _invoice(organization)
    body = {
        "credit_note": {
            "invoice_id": str(invoice.id),
            "reason": "duplicated_charge",
            "description": "twice",
            "credit_amount_cents": 1500,
            "offset_amount_cents": 500,
            "items": [{"fee_id": str(fee.id), "amount_cents": 2000}],
            "metadata": {"ticket": "7"},
        }
    }
    response = api.post("/api/v1/credit_notes", body, format="json")
    assert response.status_code == 200, response.json()
    note = response.json()["credit_note"]
    assert note["number"] == f"{invoice.number}-CN001"
    assert (note["credit_amount_cents"], note["offset_amount_cents"], note["balance_amount_cents"]) == (1500, 500, 1500)
    assert note["credit_status"] == "available" and note["refund_status"] is None
    assert note["items"][0]["fee"]["lago_id"] == str(fee.id)
    assert note["customer"]["external_id"] == customer.external_id
    assert note["metadata"] == {"ticket": "7"}
    assert isinstance(note["taxes_rate"], int | float)

    listed = api.get("/api/v1/credit_notes", {"external_customer_id": customer.external_id}).json()
    assert listed["meta"]["total_count"] == 1
    assert api.get("/api/v1/credit_notes", {"credit_status": "voided"}).json()["meta"]["total_count"] == 0
    assert api.get(f"/api/v1/credit_notes/{note['lago_id']}").status_code == 200

    updated = api.put(
        f"/api/v1/credit_notes/{note['lago_id']}", {"credit_note": {"metadata": {"a": "b"}}}, format="json"
    )
    assert updated.json()["credit_note"]["metadata"] == {"a": "b"}
    bad = api.put(f"/api/v1/credit_notes/{note['lago_id']}", {"credit_note": {"refund_status": "nope"}}, format="json")
    assert bad.status_code == 422

    downloaded = api.post(f"/api/v1/credit_notes/{note['lago_id']}/download")
    assert downloaded.status_code == 200 and downloaded.json()["credit_note"]["file_url"].endswith(".pdf")

    voided = api.put(f"/api/v1/credit_notes/{note['lago_id']}/void")
    assert voided.json()["credit_note"]["credit_status"] == "voided"
    assert voided.json()["credit_note"]["balance_amount_cents"] == 0
    assert api.put(f"/api/v1/credit_notes/{note['lago_id']}/void").status_code == 405


def test_estimate_and_validation(api, organization):
    _, invoice, fee = _invoice(organization)
    estimate = api.post(
        "/api/v1/credit_notes/estimate",
        {"credit_note": {"invoice_id": str(invoice.id), "items": [{"fee_id": str(fee.id), "amount_cents": 700}]}},
        format="json",
    )
    assert estimate.status_code == 200, estimate.json()
    data = estimate.json()["estimated_credit_note"]
    assert (data["max_creditable_amount_cents"], data["max_offsettable_amount_cents"]) == (700, 700)
    assert data["max_refundable_amount_cents"] == 0
    assert data["items"] == [{"lago_fee_id": str(fee.id), "amount_cents": 700}]

    def create(**extra):
        body = {"invoice_id": str(invoice.id), "items": [{"fee_id": str(fee.id), "amount_cents": 700}], **extra}
        return api.post("/api/v1/credit_notes", {"credit_note": body}, format="json")

    mismatch = create(credit_amount_cents=100)
    assert mismatch.status_code == 422
    assert mismatch.json()["error_details"] == {"base": ["does_not_match_item_amounts"]}
    assert create(credit_amount_cents=700, items=[]).status_code == 422
    over = create(credit_amount_cents=2001, items=[{"fee_id": str(fee.id), "amount_cents": 2001}])
    assert over.json()["error_details"] == {"amount_cents": ["higher_than_remaining_fee_amount"]}
    refund = create(refund_amount_cents=700)
    assert refund.json()["error_details"] == {"refund_amount_cents": ["higher_than_remaining_invoice_amount"]}
    unknown_fee = create(
        credit_amount_cents=700, items=[{"fee_id": "00000000-0000-0000-0000-000000000000", "amount_cents": 1}]
    )
    assert unknown_fee.status_code == 404 and unknown_fee.json()["code"] == "fee_not_found"
    assert create(credit_amount_cents=700, invoice_id="nope").json()["code"] == "invoice_not_found"
    assert api.post("/api/v1/credit_notes", {}, format="json").status_code == 400


def test_another_tenant_gets_404(api, organization, other_tenant):
    _, invoice, fee = _invoice(organization)
    note = make_credit_note(invoice, credit=500)
    other = other_tenant.client
    assert other.get(f"/api/v1/credit_notes/{note.id}").status_code == 404
    assert other.get(f"/api/v1/credit_notes/{note.id}").json()["code"] == "credit_note_not_found"
    assert other.put(f"/api/v1/credit_notes/{note.id}/void").status_code == 404
    assert other.post(f"/api/v1/credit_notes/{note.id}/download").status_code == 404
    assert other.get("/api/v1/credit_notes").json()["meta"]["total_count"] == 0
    body = {"credit_note": {"invoice_id": str(invoice.id), "items": [{"fee_id": str(fee.id), "amount_cents": 1}]}}
    assert other.post("/api/v1/credit_notes/estimate", body, format="json").status_code == 404
    body["credit_note"]["credit_amount_cents"] = 1
    assert other.post("/api/v1/credit_notes", body, format="json").status_code == 404


def test_list_filters_of_lago(api, organization):
    customer = make_customer(organization, name="Zed Industries", email="billing@zed.test")
    small, large = make_one_off_invoice(customer, 1000), make_one_off_invoice(customer, 9000)
    small_note, large_note = make_credit_note(small, credit=300), make_credit_note(large, credit=8000)
    make_credit_note(make_one_off_invoice(make_customer(organization), 700), credit=100)

    def numbers(**query):
        response = api.get("/api/v1/credit_notes", query)
        assert response.status_code == 200, response.content
        return {n["number"] for n in response.json()["credit_notes"]}

    assert numbers(amount_from=1000) == {large_note.number}
    assert numbers(amount_to=300) == {small_note.number, *numbers(amount_to=100)}
    assert numbers(invoice_number=small.number) == {small_note.number}
    assert numbers(search_term="zed") == numbers(search_term="billing@zed") == {small_note.number, large_note.number}
    assert numbers(search_term=large_note.number.lower()) == {large_note.number}
    today = small_note.issuing_date.isoformat()
    assert len(numbers(issuing_date_from=today, issuing_date_to=today)) == 3
    assert numbers(issuing_date_to="2001-01-01") == set()
    for bad in ({"amount_from": "-1"}, {"issuing_date_from": "soon"}):
        assert api.get("/api/v1/credit_notes", bad).status_code == 422
