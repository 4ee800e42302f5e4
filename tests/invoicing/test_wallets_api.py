"""Wallets and wallet transactions API (docs/credits.md)."""

from __future__ import annotations

import pytest

from invoicing.credits.models import Wallet
from invoicing.models import Invoice
from tests.factories.invoicing import make_customer, make_metric

pytestmark = pytest.mark.django_db


def _create(api, customer, **extra):
    body = {"external_customer_id": customer.external_id, "rate_amount": "0.5", "currency": "USD", **extra}
    return api.post("/api/v1/wallets", {"wallet": body}, format="json")


def test_create_wallet_with_granted_and_paid_credits(api, organization):
    customer = make_customer(organization, currency="USD")
    make_metric(organization, "calls")
    response = _create(
        api,
        customer,
        name="Prepaid",
        code="main",
        priority=3,
        granted_credits="10",
        paid_credits="20.5",
        applies_to={"fee_types": ["charge"], "billable_metric_codes": ["calls"]},
        metadata={"team": "ops"},
    )
    assert response.status_code == 200, response.json()
    wallet = response.json()["wallet"]
    assert wallet["status"] == "active"
    assert wallet["rate_amount"] == "0.5"
    assert wallet["credits_balance"] == "10.0"  # paid credits wait for the payment
    assert wallet["balance_cents"] == 500
    assert wallet["priority"] == 3
    assert wallet["applies_to"] == {"fee_types": ["charge"], "billable_metric_codes": ["calls"]}
    assert wallet["metadata"] == {"team": "ops"}
    for key in ("ongoing_balance_cents", "ongoing_usage_balance_cents", "credits_ongoing_balance", "consumed_credits"):
        assert wallet[key] is not None

    credit_invoice = Invoice.objects.get(customer=customer, invoice_type="credit")
    assert credit_invoice.total_amount_cents == 1025  # 20.5 credits × 0.5, no tax
    assert credit_invoice.status == "finalized"

    txs = api.get(f"/api/v1/wallets/{wallet['lago_id']}/wallet_transactions").json()["wallet_transactions"]
    assert sorted((t["transaction_status"], t["status"], t["credit_amount"], t["amount"]) for t in txs) == [
        ("granted", "settled", "10.0", "5.0"),
        ("purchased", "pending", "20.5", "10.25"),
    ]
    purchased = next(t for t in txs if t["transaction_status"] == "purchased")
    assert purchased["lago_invoice_id"] == str(credit_invoice.id)

    # The manual payment flow settles the purchase.
    paid = api.put(f"/api/v1/invoices/{credit_invoice.id}", {"invoice": {"payment_status": "succeeded"}}, format="json")
    assert paid.status_code == 200, paid.json()
    wallet = api.get(f"/api/v1/wallets/{wallet['lago_id']}").json()["wallet"]
    assert wallet["credits_balance"] == "30.5"
    assert wallet["balance_cents"] == 1525


def test_wallet_transactions_top_up_and_void(api, organization):
    customer = make_customer(organization, currency="USD")
    wallet_id = _create(api, customer, rate_amount="1", granted_credits="10").json()["wallet"]["lago_id"]
    response = api.post(
        "/api/v1/wallet_transactions",
        {
            "wallet_transaction": {
                "wallet_id": wallet_id,
                "granted_credits": "5",
                "voided_credits": "3",
                "paid_credits": None,
                "metadata": [{"key": "why", "value": "goodwill"}],
            }
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    rows = response.json()["wallet_transactions"]
    assert [(r["transaction_status"], r["transaction_type"], r["credit_amount"]) for r in rows] == [
        ("granted", "inbound", "5.0"),
        ("voided", "outbound", "3.0"),
    ]
    assert rows[0]["metadata"] == [{"key": "why", "value": "goodwill"}]
    detail = api.get(f"/api/v1/wallet_transactions/{rows[0]['lago_id']}")
    assert detail.json()["wallet_transaction"]["lago_wallet_id"] == wallet_id
    assert api.get(f"/api/v1/wallets/{wallet_id}").json()["wallet"]["credits_balance"] == "12.0"

    too_much = api.post(
        "/api/v1/wallet_transactions",
        {"wallet_transaction": {"wallet_id": wallet_id, "voided_credits": "13"}},
        format="json",
    )
    assert too_much.status_code == 422
    assert too_much.json()["error_details"] == {"voided_credits": ["insufficient_credits"]}


def test_terminate_voids_remaining_credits(api, organization):
    customer = make_customer(organization, currency="USD")
    wallet_id = _create(api, customer, rate_amount="1", granted_credits="10").json()["wallet"]["lago_id"]
    response = api.delete(f"/api/v1/wallets/{wallet_id}")
    assert response.status_code == 200
    wallet = response.json()["wallet"]
    assert wallet["status"] == "terminated"
    assert wallet["credits_balance"] == "0.0"
    assert wallet["terminated_at"]
    top_up = api.post(
        "/api/v1/wallet_transactions",
        {"wallet_transaction": {"wallet_id": wallet_id, "granted_credits": "1"}},
        format="json",
    )
    assert top_up.status_code == 405


def test_update_wallet_and_customer_scoped_routes(api, organization):
    customer = make_customer(organization, currency="USD")
    wallet_id = _create(api, customer, code="main", granted_credits="1").json()["wallet"]["lago_id"]
    response = api.put(f"/api/v1/wallets/{wallet_id}", {"wallet": {"name": "Renamed", "priority": 1}}, format="json")
    assert response.status_code == 200
    assert (response.json()["wallet"]["name"], response.json()["wallet"]["priority"]) == ("Renamed", 1)
    listed = api.get(f"/api/v1/customers/{customer.external_id}/wallets").json()
    assert [w["lago_id"] for w in listed["wallets"]] == [wallet_id]
    assert listed["meta"]["total_count"] == 1
    by_code = api.get(f"/api/v1/customers/{customer.external_id}/wallets/main")
    assert by_code.json()["wallet"]["lago_id"] == wallet_id
    assert api.get(f"/api/v1/customers/{customer.external_id}/wallets/nope").status_code == 404
    everything = api.get("/api/v1/wallets", {"external_customer_id": customer.external_id}).json()
    assert everything["meta"]["total_count"] == 1


def test_validation_errors(api, organization):
    customer = make_customer(organization, currency="USD")
    assert api.post("/api/v1/wallets", {}, format="json").status_code == 400
    bad = _create(api, customer, rate_amount="0", priority=99, granted_credits="-1")
    assert bad.status_code == 422
    details = bad.json()["error_details"]
    assert set(details) >= {"rate_amount", "priority", "granted_credits"}
    unknown = api.post(
        "/api/v1/wallets", {"wallet": {"external_customer_id": "nobody", "rate_amount": "1"}}, format="json"
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "customer_not_found"
    metric = _create(api, customer, applies_to={"billable_metric_codes": ["missing"]})
    assert metric.status_code == 404


def test_at_most_five_active_wallets(api, organization):
    customer = make_customer(organization, currency="USD")
    for _ in range(5):
        assert _create(api, customer).status_code == 200
    sixth = _create(api, customer)
    assert sixth.status_code == 422
    assert sixth.json()["error_details"] == {"customer": ["wallet_limit_reached"]}
    api.delete(f"/api/v1/wallets/{Wallet.objects.filter(customer=customer).first().id}")
    assert _create(api, customer).status_code == 200


def test_paid_top_up_limits(api, organization):
    customer = make_customer(organization, currency="USD")
    created = _create(
        api, customer, rate_amount="1", paid_top_up_min_amount_cents=500, paid_top_up_max_amount_cents=1000
    ).json()["wallet"]
    wallet_id = created["lago_id"]
    assert created["paid_top_up_min_amount_cents"] == 500

    def top_up(credits, **extra):
        body = {"wallet_id": wallet_id, "paid_credits": credits, **extra}
        return api.post("/api/v1/wallet_transactions", {"wallet_transaction": body}, format="json")

    assert top_up("4").json()["error_details"] == {"paid_credits": ["amount_below_minimum"]}
    assert top_up("11").json()["error_details"] == {"paid_credits": ["amount_above_maximum"]}
    assert top_up("11", ignore_paid_top_up_limits=True).status_code == 200
    assert top_up("7").status_code == 200


def test_another_tenant_gets_404(api, organization, other_tenant):
    customer = make_customer(organization, currency="USD")
    wallet_id = _create(api, customer, granted_credits="1").json()["wallet"]["lago_id"]
    tx_id = api.get(f"/api/v1/wallets/{wallet_id}/wallet_transactions").json()["wallet_transactions"][0]["lago_id"]
    other = other_tenant.client
    assert other.get(f"/api/v1/wallets/{wallet_id}").status_code == 404
    assert other.get(f"/api/v1/wallets/{wallet_id}").json()["code"] == "wallet_not_found"
    assert other.delete(f"/api/v1/wallets/{wallet_id}").status_code == 404
    assert other.get(f"/api/v1/wallets/{wallet_id}/wallet_transactions").status_code == 404
    assert other.get(f"/api/v1/wallet_transactions/{tx_id}").status_code == 404
    assert (
        other.post(
            "/api/v1/wallet_transactions",
            {"wallet_transaction": {"wallet_id": wallet_id, "granted_credits": "5"}},
            format="json",
        ).status_code
        == 404
    )
    assert other.get(f"/api/v1/customers/{customer.external_id}/wallets").status_code == 404
    assert other.get("/api/v1/wallets/not-a-uuid").status_code == 404


def test_wallet_and_credit_note_metadata_routes(api, organization, other_tenant):
    from tests.factories.credits import make_credit_note, make_one_off_invoice

    customer = make_customer(organization, currency="USD")
    wallet_id = _create(api, customer, metadata={"a": "1"}).json()["wallet"]["lago_id"]
    base = f"/api/v1/wallets/{wallet_id}/metadata"
    assert api.patch(base, {"metadata": {"b": "2"}}, format="json").json() == {"metadata": {"a": "1", "b": "2"}}
    assert api.post(base, {"metadata": {"c": None}}, format="json").json() == {"metadata": {"c": None}}
    assert api.delete(f"{base}/c").json() == {"metadata": {}}
    assert api.post(base, {"metadata": {"x": 1}}, format="json").status_code == 422
    assert api.post(base, {}, format="json").status_code == 400
    assert other_tenant.client.delete(base).status_code == 404

    note = make_credit_note(make_one_off_invoice(customer, 1000), credit=1000)
    note_base = f"/api/v1/credit_notes/{note.id}/metadata"
    assert api.post(note_base, {"metadata": {"k": "v"}}, format="json").json() == {"metadata": {"k": "v"}}
    assert api.patch(note_base, {"metadata": {"l": "w"}}, format="json").json()["metadata"] == {"k": "v", "l": "w"}
    assert api.delete(note_base).json() == {"metadata": {}}
    assert other_tenant.client.post(note_base, {"metadata": {}}, format="json").status_code == 404


def test_absurd_amounts_are_refused_not_crashing(api, organization):
    customer = make_customer(organization, currency="USD")
    for body in (
        {"rate_amount": "1e30"},
        {"rate_amount": "0.0000000000000001"},
        {"granted_credits": "1e40"},
        {"paid_credits": "1.000001"},
        {"rate_amount": "abc"},
    ):
        response = _create(api, customer, **body)
        assert response.status_code == 422, (body, response.content)
