"""`DELETE /invoices/{id}` (drafts), `DELETE /fees/{id}` (not invoiced), `POST /invoices/{id}/retry`, `POST /invoices/{id}/lose_dispute`,
`POST /invoices/{id}/download_pdf` and `POST /credit_notes/{id}/download_pdf` (docs/invoicing.md §4,
docs/lago-compatibility.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from invoicing.admin import payment_badge
from invoicing.billing.run import customer_bill
from invoicing.models import Fee, Invoice, InvoiceStatus, InvoiceSubscription
from invoicing.services.advance import pay_in_advance_fees
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe
from tests.factories.payments import finalized_invoice
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def endpoint(organization):
    return WebhookEndpoint.objects.create(organization=organization, webhook_url="http://127.0.0.1:9/hook")


def _types(organization):
    return list(
        WebhookDelivery.objects.filter(organization=organization)
        .order_by("created_at")
        .values_list("webhook_type", flat=True)
    )


@pytest.fixture
def draft(organization):
    """A January invoice kept as a draft (grace period of 3 days): 1,000 base + 2 calls at 1.00."""
    customer = make_customer(organization, external_id="c1", invoice_grace_period=3)
    plan = make_plan(organization, amount_cents=1000)
    make_charge(plan, make_metric(organization, "calls"), properties={"amount": "1"})
    sub = subscribe(customer, plan, at(2024, 1, 1))
    add_events(sub, "calls", [at(2024, 1, 10)] * 2)
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.status == InvoiceStatus.DRAFT and invoice.total_amount_cents == 1200
    return invoice


def _path(invoice, action=""):
    return f"/api/v1/invoices/{invoice.id}{action}"


# --- DELETE /invoices/{id} -----------------------------------------------------------------------------


def test_deleting_a_draft_hides_it_and_never_bills_its_period_again(api, organization, endpoint, draft):
    response = api.delete(_path(draft))
    assert response.status_code == 200, response.content
    assert response.json()["invoice"]["status"] == "deleted"
    assert api.get(_path(draft)).status_code == 404
    assert api.get("/api/v1/invoices").json()["invoices"] == []
    assert api.delete(_path(draft)).status_code == 404
    assert api.put(_path(draft, "/finalize")).status_code == 404
    # The billing run does not bill January again, and bills February as usual.
    assert customer_bill(draft.customer_id, at=at(2024, 2, 1, 2)) == []
    [march] = customer_bill(draft.customer_id, at=at(2024, 3, 1, 1))
    assert InvoiceSubscription.objects.filter(invoice=draft).count() == 1
    assert march.id != draft.id
    assert "invoice.deleted" in _types(organization)
    draft.refresh_from_db()
    assert "nothing due (deleted draft)" in payment_badge(draft)  # the finance console says so


def test_only_a_draft_can_be_deleted(api, organization, draft):
    finalized = finalized_invoice(draft.customer, 500)
    response = api.delete(_path(finalized))
    assert response.status_code == 405
    assert response.json() == {"status": 405, "error": "Method Not Allowed", "code": "not_deletable"}
    finalized.refresh_from_db()
    assert finalized.status == InvoiceStatus.FINALIZED


# --- POST /invoices/{id}/retry -------------------------------------------------------------------------


def test_retry_finalizes_a_failed_invoice_and_refuses_others(api, organization, draft):
    response = api.post(_path(draft, "/retry"))
    assert response.status_code == 405 and response.json()["code"] == "invalid_status"
    Invoice.objects.filter(pk=draft.pk).update(status=InvoiceStatus.FAILED)
    response = api.post(_path(draft, "/retry"))
    assert response.status_code == 200, response.content
    shown = response.json()["invoice"]
    assert (shown["status"], shown["total_amount_cents"]) == ("finalized", 1200)
    assert shown["number"].endswith("-001")


# --- POST /invoices/{id}/lose_dispute ------------------------------------------------------------------


def test_lose_dispute_on_a_finalized_invoice(api, organization, endpoint, draft):
    invoice = finalized_invoice(draft.customer, 500, payment_overdue=True)
    response = api.post(_path(invoice, "/lose_dispute"))
    assert response.status_code == 200, response.content
    shown = response.json()["invoice"]
    assert shown["payment_dispute_lost_at"] is not None and shown["payment_overdue"] is False
    first = shown["payment_dispute_lost_at"]
    again = api.put(_path(invoice, "/lose_dispute"))  # Lago's Python client sends PUT
    assert again.status_code == 200 and again.json()["invoice"]["payment_dispute_lost_at"] == first
    assert _types(organization).count("invoice.payment_dispute_lost") == 1
    # A lost dispute cannot be voided away.
    response = api.post(_path(invoice, "/void"))
    assert response.status_code == 405 and response.json()["code"] == "not_voidable"


def test_lose_dispute_refuses_a_draft(api, draft):
    response = api.post(_path(draft, "/lose_dispute"))
    assert response.status_code == 405 and response.json()["code"] == "not_disputable"
    draft.refresh_from_db()
    assert draft.payment_dispute_lost_at is None


# --- download_pdf --------------------------------------------------------------------------------------


def test_download_pdf_is_download(api, organization, draft):
    invoice = finalized_invoice(draft.customer, 500, with_fee=True)
    response = api.post(_path(invoice, "/download_pdf"))
    assert response.status_code == 200, response.content
    assert response.json()["invoice"]["file_url"]
    assert api.post(_path(draft, "/download_pdf")).status_code == 404  # no PDF of a draft


def test_credit_note_download_pdf(api, organization, draft):
    invoice = finalized_invoice(draft.customer, 500, with_fee=True)
    fee = invoice.fees.get()
    body = {"credit_note": {"invoice_id": str(invoice.id), "reason": "other", "credit_amount_cents": 100,
                            "refund_amount_cents": 0, "items": [{"fee_id": str(fee.id), "amount_cents": 100}]}}  # fmt: skip
    created = api.post("/api/v1/credit_notes", body, format="json")
    assert created.status_code == 200, created.content
    note_id = created.json()["credit_note"]["lago_id"]
    response = api.post(f"/api/v1/credit_notes/{note_id}/download_pdf")
    assert response.status_code == 200, response.content
    assert response.json()["credit_note"]["file_url"]


# --- tenants -------------------------------------------------------------------------------------------


def test_another_organization_gets_404_on_every_new_route(api, other_tenant, organization, draft):
    finalized = finalized_invoice(draft.customer, 500, with_fee=True)
    other = other_tenant.client
    calls = [
        other.delete(_path(draft)),
        other.post(_path(draft, "/retry")),
        other.post(_path(finalized, "/lose_dispute")),
        other.put(_path(finalized, "/lose_dispute")),
        other.post(_path(finalized, "/download_pdf")),
    ]
    assert [c.status_code for c in calls] == [404] * 5
    assert {c.json()["code"] for c in calls} == {"invoice_not_found"}
    draft.refresh_from_db()
    finalized.refresh_from_db()
    assert draft.status == InvoiceStatus.DRAFT and finalized.payment_dispute_lost_at is None
    assert api.delete("/api/v1/invoices/not-a-uuid").status_code == 404


# --- DELETE /fees/{id} ---------------------------------------------------------------------------------


def _advance_fee(organization):
    """A pay-in-advance fee of a non-invoiceable charge (no invoice): one seat at 10.00."""
    customer = make_customer(organization, external_id="adv")
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "seats")
    make_charge(plan, metric, properties={"amount": "10"}, pay_in_advance=True, invoiceable=False)
    sub = subscribe(customer, plan, at(2024, 5, 1))
    add_events(sub, "seats", [at(2024, 5, 2)])
    [fee] = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=at(2024, 5, 20, 12))
    assert fee.invoice_id is None and fee.amount_cents == 1000
    return sub, fee


def test_deleting_a_fee_not_invoiced(api, organization):
    sub, fee = _advance_fee(organization)
    response = api.delete(f"/api/v1/fees/{fee.id}")
    assert response.status_code == 200, response.content
    assert response.json()["fee"]["lago_id"] == str(fee.id)
    assert api.get(f"/api/v1/fees/{fee.id}").status_code == 404
    assert api.get("/api/v1/fees").json()["fees"] == []
    assert api.delete(f"/api/v1/fees/{fee.id}").status_code == 404
    response = api.put(f"/api/v1/fees/{fee.id}", {"fee": {"payment_status": "succeeded"}}, format="json")
    assert response.status_code == 404
    # Its event is not billed in advance again, by the task or the reconciliation.
    assert pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=at(2024, 5, 21)) == []
    assert Fee.objects.filter(subscription=sub).count() == 1


def test_an_invoiced_fee_is_not_deleted(api, organization, draft):
    fee = draft.fees.first()
    response = api.delete(f"/api/v1/fees/{fee.id}")
    assert response.status_code == 405
    assert response.json() == {"status": 405, "error": "Method Not Allowed", "code": "invoiced_fee"}
    fee.refresh_from_db()
    assert fee.deleted_at is None


def test_another_organization_cannot_delete_a_fee(api, other_tenant, organization):
    _, fee = _advance_fee(organization)
    response = other_tenant.client.delete(f"/api/v1/fees/{fee.id}")
    assert response.status_code == 404 and response.json()["code"] == "fee_not_found"
    fee.refresh_from_db()
    assert fee.deleted_at is None
    assert api.delete("/api/v1/fees/not-a-uuid").status_code == 404
