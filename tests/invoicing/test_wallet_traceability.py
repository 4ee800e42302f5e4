"""Wallet traceability: which inbound transactions funded which outbound ones (Lago's consumption
order), `GET /wallet_transactions/{id}/consumptions|fundings` and the backfill of migration 0008
(`POST /wallet_transactions/{id}/payment_url`: tests/payments/test_wallet_transaction_payment_url.py)."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from invoicing.credits.inputs import WalletTransactionCreate
from invoicing.credits.models import WalletTransaction, WalletTransactionConsumption
from invoicing.credits.services import wallets as svc
from invoicing.credits.tracing import Inbound, allocate
from tests.factories.credits import make_wallet
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _in(name: str, priority: int, granted: bool, minute: int, cents: int) -> Inbound:
    return Inbound(
        id=name, priority=priority, granted=granted, created_at=T0 + dt.timedelta(minutes=minute), remaining_cents=cents
    )


@pytest.mark.parametrize(
    ("amount", "inbounds", "expected"),
    [
        # granted before purchased, whatever came first
        (150, [_in("paid", 50, False, 0, 100), _in("gift", 50, True, 5, 100)], [("gift", 100), ("paid", 50)]),
        # a lower priority number first, even purchased
        (150, [_in("gift", 50, True, 0, 100), _in("paid", 10, False, 5, 100)], [("paid", 100), ("gift", 50)]),
        # the oldest first among equals; empty lines are skipped
        (
            120,
            [_in("b", 50, True, 2, 100), _in("a", 50, True, 1, 100), _in("z", 1, True, 0, 0)],
            [("a", 100), ("b", 20)],
        ),
        # short when the lines hold less
        (500, [_in("a", 50, True, 0, 100)], [("a", 100)]),
        (0, [_in("a", 50, True, 0, 100)], []),
    ],
)
def test_allocate_follows_lagos_consumption_order(amount, inbounds, expected):
    assert allocate(amount, inbounds) == expected


def _ledger(organization, customer=None):
    """G1 granted 10, P1 bought 20 (settled later), G2 granted 5; then V1 voids 12, V2 voids 5."""
    customer = customer or CustomerFactory(organization=organization, currency="USD")
    wallet = make_wallet(customer, granted="10", code="main")
    [g1] = WalletTransaction.objects.filter(wallet=wallet)
    data = {"wallet_id": str(wallet.id)}
    [p1] = svc.wallet_transaction_create(
        organization, WalletTransactionCreate.from_body({**data, "paid_credits": "20"})
    )
    [g2] = svc.wallet_transaction_create(
        organization, WalletTransactionCreate.from_body({**data, "granted_credits": "5"})
    )
    svc.wallet_transaction_settle(p1.id)
    [v1] = svc.wallet_transaction_create(
        organization, WalletTransactionCreate.from_body({**data, "voided_credits": "12"})
    )
    [v2] = svc.wallet_transaction_create(
        organization, WalletTransactionCreate.from_body({**data, "voided_credits": "5"})
    )
    return wallet, g1, p1, g2, v1, v2


def _pairs():
    return sorted(
        (str(r.inbound_id), str(r.outbound_id), r.amount_cents) for r in WalletTransactionConsumption.objects.all()
    )


def test_outbound_lines_are_funded_granted_first_then_oldest(organization):
    wallet, g1, p1, g2, v1, v2 = _ledger(organization)
    funded = {(r.inbound_id, r.outbound_id): r.amount_cents for r in WalletTransactionConsumption.objects.all()}
    assert funded == {(g1.id, v1.id): 1000, (g2.id, v1.id): 200, (g2.id, v2.id): 300, (p1.id, v2.id): 200}
    remaining = dict(
        WalletTransaction.objects.filter(transaction_type="inbound").values_list("id", "remaining_amount_cents")
    )
    assert remaining == {g1.id: 0, g2.id: 0, p1.id: 1800}
    wallet.refresh_from_db()
    assert wallet.balance_cents == 1800


def test_the_backfill_replays_the_same_pairs(organization):
    _ledger(organization)
    _ledger(organization)
    live = _pairs()
    held = sorted(WalletTransaction.objects.values_list("id", "remaining_amount_cents"))
    WalletTransactionConsumption.objects.all().delete()
    WalletTransaction.objects.update(remaining_amount_cents=None)
    migration = importlib.import_module("invoicing.migrations.0008_wallet_transaction_consumptions")
    migration.backfill(apps, None)
    assert _pairs() == live
    assert sorted(WalletTransaction.objects.values_list("id", "remaining_amount_cents")) == held


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
def test_consumptions_and_fundings_api(api, organization, prefix):
    _, _, p1, g2, v1, v2 = _ledger(organization)
    body = api.get(f"{prefix}/wallet_transactions/{g2.id}/consumptions").json()
    assert body["meta"]["total_count"] == 2
    rows = {r["wallet_transaction"]["lago_id"]: r for r in body["wallet_transaction_consumptions"]}
    assert {k: (r["amount_cents"], r["credit_amount"]) for k, r in rows.items()} == {
        str(v1.id): (200, "2.0"),
        str(v2.id): (300, "3.0"),
    }
    assert rows[str(v1.id)]["wallet_transaction"]["transaction_status"] == "voided"

    fundings = api.get(f"{prefix}/wallet_transactions/{v2.id}/fundings", {"per_page": 1}).json()
    assert fundings["meta"]["total_count"] == 2 and len(fundings["wallet_transaction_fundings"]) == 1
    both = api.get(f"{prefix}/wallet_transactions/{v2.id}/fundings").json()["wallet_transaction_fundings"]
    assert {r["wallet_transaction"]["lago_id"]: r["amount_cents"] for r in both} == {str(g2.id): 300, str(p1.id): 200}

    transaction = api.get(f"{prefix}/wallet_transactions/{p1.id}").json()["wallet_transaction"]
    assert (transaction["remaining_amount_cents"], transaction["remaining_credit_amount"]) == (1800, "18.0")
    outbound = api.get(f"{prefix}/wallet_transactions/{v1.id}").json()["wallet_transaction"]
    assert outbound["remaining_amount_cents"] is None


def test_the_wrong_direction_and_bad_pages_are_422(api, organization):
    _, g1, _, _, v1, _ = _ledger(organization)
    for path in (f"{v1.id}/consumptions", f"{g1.id}/fundings"):
        response = api.get(f"/api/v1/wallet_transactions/{path}")
        assert response.status_code == 422
        assert response.json()["error_details"] == {"transaction_type": ["invalid_transaction_type"]}
    assert api.get(f"/api/v1/wallet_transactions/{g1.id}/consumptions", {"page": "0"}).status_code == 422


def test_another_organization_gets_404(api, organization, other_tenant):
    _, g1, p1, _, v1, _ = _ledger(organization)
    client = other_tenant.client
    for response in (
        client.get(f"/api/v1/wallet_transactions/{g1.id}/consumptions"),
        client.get(f"/api/v1/wallet_transactions/{v1.id}/fundings"),
        client.post(f"/api/v1/wallet_transactions/{p1.id}/payment_url"),
        api.get("/api/v1/wallet_transactions/not-a-uuid/consumptions"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "wallet_transaction_not_found"


@pytest.mark.django_db(transaction=True)
def test_lago_client_consumptions_fundings_and_payment_url(lago):
    from lago_python_client.exceptions import LagoApiError

    organization = lago.organization
    _, g1, p1, g2, v1, _ = _ledger(organization)
    consumptions = lago.client.wallet_transactions.consumptions(str(g1.id))
    [row] = consumptions["wallet_transaction_consumptions"]
    assert (row.amount_cents, row.credit_amount, row.wallet_transaction.lago_id) == (1000, "10.0", str(v1.id))
    fundings = lago.client.wallet_transactions.fundings(str(v1.id))
    assert sorted(r.wallet_transaction.lago_id for r in fundings["wallet_transaction_fundings"]) == sorted(
        [str(g1.id), str(g2.id)]
    )
    assert Decimal(sum(r.amount_cents for r in fundings["wallet_transaction_fundings"])) == 1200
    with pytest.raises(LagoApiError) as refused:
        lago.client.wallet_transactions.payment_url(str(p1.id))
    assert refused.value.status_code == 422


def test_a_void_can_target_one_inbound_transaction(api, organization):
    customer = CustomerFactory(organization=organization, currency="USD")
    wallet = make_wallet(customer, granted="10", code="main")
    [g1] = WalletTransaction.objects.filter(wallet=wallet)
    post = lambda body: api.post(  # noqa: E731
        "/api/v1/wallet_transactions", {"wallet_transaction": {"wallet_id": str(wallet.id), **body}}, format="json"
    )
    g2 = post({"granted_credits": "5"}).json()["wallet_transactions"][0]
    # 3 credits voided from the newer grant only (the pool would have taken them from the older one)
    [v1] = post({"voided_credits": "3", "voided_transaction_id": g2["lago_id"]}).json()["wallet_transactions"]
    assert [(f["wallet_transaction"]["lago_id"], f["amount_cents"]) for f in _fundings(api, v1)] == [
        (g2["lago_id"], 300)
    ]
    # without an amount: all that grant still holds
    [v2] = post({"voided_transaction_id": g2["lago_id"]}).json()["wallet_transactions"]
    assert (v2["credit_amount"], v2["amount_cents"]) == ("2.0", 200)
    g1.refresh_from_db()
    assert g1.remaining_amount_cents == 1000

    before = WalletTransaction.objects.count()
    for body, field, code in [
        ({"voided_transaction_id": g2["lago_id"]}, "voided_transaction_id", "no_remaining_amount"),
        ({"voided_transaction_id": v1["lago_id"]}, "voided_transaction_id", "wallet_transaction_not_found"),
        ({"voided_transaction_id": "nope"}, "voided_transaction_id", "wallet_transaction_not_found"),
        ({"voided_credits": "11", "voided_transaction_id": str(g1.id)}, "voided_credits", "insufficient_credits"),
        (
            {"voided_credits": "10.5", "voided_transaction_id": str(g1.id)},
            "amount_cents",
            "exceeds_remaining_transaction_amount",
        ),
        ({"granted_credits": "1", "priority": 0}, "priority", "value_is_invalid"),
    ]:
        response = post(body)
        assert response.status_code == 422, body
        assert code in response.json()["error_details"].get(field, []), response.json()
    assert WalletTransaction.objects.count() == before


def test_a_transactions_priority_orders_its_consumption(api, organization):
    customer = CustomerFactory(organization=organization, currency="USD")
    wallet = make_wallet(customer, granted="10", code="main")
    [opening] = WalletTransaction.objects.filter(wallet=wallet)
    post = lambda body: api.post(  # noqa: E731
        "/api/v1/wallet_transactions", {"wallet_transaction": {"wallet_id": str(wallet.id), **body}}, format="json"
    ).json()["wallet_transactions"][0]
    first = post({"granted_credits": "4", "priority": 1})
    assert first["priority"] == 1
    voided = post({"voided_credits": "5"})
    assert [(f["wallet_transaction"]["lago_id"], f["amount_cents"]) for f in _fundings(api, voided)] == [
        (first["lago_id"], 400),
        (str(opening.id), 100),
    ]


def _fundings(api, outbound):
    rows = api.get(f"/api/v1/wallet_transactions/{outbound['lago_id']}/fundings").json()["wallet_transaction_fundings"]
    return sorted(rows, key=lambda r: -r["amount_cents"])


def test_a_wallets_opening_transactions_take_transaction_priority(api, organization):
    customer = CustomerFactory(organization=organization, currency="USD")
    body = {"external_customer_id": customer.external_id, "rate_amount": "1", "granted_credits": "2"}
    created = api.post("/api/v1/wallets", {"wallet": {**body, "transaction_priority": 3}}, format="json")
    assert created.status_code == 200, created.content
    [opening] = WalletTransaction.objects.filter(wallet_id=created.json()["wallet"]["lago_id"])
    assert opening.priority == 3
    refused = api.post("/api/v1/wallets", {"wallet": {**body, "code": "b", "transaction_priority": 51}}, format="json")
    assert refused.json()["error_details"] == {"transaction_priority": ["value_is_invalid"]}
    assert WalletTransaction.objects.filter(wallet__customer=customer).count() == 1
