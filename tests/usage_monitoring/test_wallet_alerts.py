"""Wallet alerts (docs/billing-semantics.md §11): balance and ongoing balance, amount or credits; API as
`client.wallets.alerts` calls it; a threshold fires when the balance falls to it, re-arms above it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoicing.credits.models import Wallet
from tests.factories.credits import make_wallet
from tests.factories.invoicing import make_customer
from tests.factories.usage_monitoring import alert_webhooks, webhook_endpoint
from usage_monitoring import tasks
from usage_monitoring.models import Alert
from usage_monitoring.services.evaluation import wallet_alerts_evaluate

pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet(organization):
    webhook_endpoint(organization)
    customer = make_customer(organization, external_id="cus_w", currency="USD")
    return make_wallet(customer, granted="100", code="main")


def set_balance(wallet: Wallet, credits: str) -> None:
    value = Decimal(credits)
    Wallet.objects.filter(id=wallet.id).update(
        credits_balance=value,
        balance_cents=int(value * 100),
        credits_ongoing_balance=value,
        ongoing_balance_cents=int(value * 100),
    )


def create(api, body):
    return api.post("/api/v1/customers/cus_w/wallets/main/alerts", {"alert": body}, format="json")


@pytest.mark.parametrize(
    ("alert_type", "threshold"),
    [
        ("wallet_balance_amount", "5000"),
        ("wallet_credits_balance", "50"),
        ("wallet_ongoing_balance_amount", "5000"),
        ("wallet_credits_ongoing_balance", "50"),
    ],
)
def test_each_wallet_alert_type_fires_when_the_balance_falls_to_the_threshold(api, wallet, alert_type, threshold):
    r = create(api, {"alert_type": alert_type, "code": "low", "thresholds": [{"code": "t", "value": threshold}]})
    assert r.status_code == 200, r.content
    body = r.json()["alert"]
    assert (body["lago_wallet_id"], body["wallet_code"], body["external_subscription_id"]) == (
        str(wallet.id),
        "main",
        None,
    )
    set_balance(wallet, "80")
    assert wallet_alerts_evaluate(wallet.id) == []  # 80 credits: above
    set_balance(wallet, "50")
    assert len(wallet_alerts_evaluate(wallet.id)) == 1
    [hook] = alert_webhooks(wallet.organization)
    assert hook["alert_type"] == alert_type and hook["lago_wallet_id"] == str(wallet.id)
    assert hook["crossed_thresholds"] == [{"code": "t", "value": threshold, "recurring": False}]
    assert hook["wallet_code"] == "main" and hook["lago_subscription_id"] is None
    set_balance(wallet, "40")
    assert wallet_alerts_evaluate(wallet.id) == []  # still below: no second alert
    set_balance(wallet, "90")
    wallet_alerts_evaluate(wallet.id)
    set_balance(wallet, "10")
    assert len(wallet_alerts_evaluate(wallet.id)) == 1  # re-armed above, falls again
    assert len(alert_webhooks(wallet.organization)) == 2


def test_sweep_evaluates_wallets_with_alerts(api, wallet, django_capture_on_commit_callbacks):
    create(api, {"alert_type": "wallet_credits_balance", "code": "low", "thresholds": [{"value": "10"}]})
    set_balance(wallet, "5")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep()
    assert len(alert_webhooks(wallet.organization)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep()
    assert len(alert_webhooks(wallet.organization)) == 1


def test_wallet_alert_crud_batch_and_validation(api, wallet):
    r = api.post(
        "/api/v1/customers/cus_w/wallets/main/alerts",
        {
            "alerts": [
                {"alert_type": "wallet_balance_amount", "code": "a", "thresholds": [{"value": "1000"}]},
                {"alert_type": "wallet_credits_balance", "code": "b", "thresholds": [{"value": "10"}]},
            ]
        },
        format="json",
    )
    assert [a["code"] for a in r.json()["alerts"]] == ["a", "b"]
    assert [a["code"] for a in api.get("/api/v1/customers/cus_w/wallets/main/alerts").json()["alerts"]] == ["a", "b"]
    r = api.put(
        "/api/v1/customers/cus_w/wallets/main/alerts/a", {"alert": {"thresholds": [{"value": "7"}]}}, format="json"
    )
    assert r.json()["alert"]["thresholds"] == [{"code": None, "value": "7", "recurring": False}]
    assert api.get("/api/v1/customers/cus_w/wallets/main/alerts/a").status_code == 200
    assert api.delete("/api/v1/customers/cus_w/wallets/main/alerts/a").json()["alert"]["code"] == "a"
    assert api.delete("/api/v1/customers/cus_w/wallets/main/alerts").content == b""
    assert not Alert.objects.filter(deleted_at__isnull=True).exists()
    r = create(api, {"alert_type": "current_usage_amount", "code": "x", "thresholds": [{"value": "1"}]})
    assert r.json()["error_details"] == {"alert_type": ["value_is_invalid"]}
    r = create(
        api, {"alert_type": "wallet_balance_amount", "code": "x", "thresholds": [{"value": "1", "recurring": True}]}
    )
    assert "recurring_not_supported" in r.json()["error_details"]["thresholds"]
    assert (
        create(api, {"alert_type": "wallet_balance_amount", "code": "x", "thresholds": [{"value": "1"}]}).status_code
        == 200
    )
    r = create(api, {"alert_type": "wallet_balance_amount", "code": "y", "thresholds": [{"value": "2"}]})
    assert r.json()["error_details"] == {"base": ["alert_already_exists"]}
    r = api.get("/api/v1/customers/cus_w/wallets/nope/alerts")
    assert (r.status_code, r.json()["code"]) == (404, "wallet_not_found")
    # by lago_id too
    assert api.get(f"/api/v1/customers/cus_w/wallets/{wallet.id}/alerts").status_code == 200


def test_wallet_alerts_other_tenant_404(api, wallet, other_tenant):
    create(api, {"alert_type": "wallet_balance_amount", "code": "a", "thresholds": [{"value": "1"}]})
    client = other_tenant.client
    assert client.get("/api/v1/customers/cus_w/wallets/main/alerts").status_code == 404
    assert client.get("/api/v1/customers/cus_w/wallets/main/alerts/a").status_code == 404
    assert client.delete("/api/v1/customers/cus_w/wallets/main/alerts").status_code == 404
    assert Alert.objects.filter(deleted_at__isnull=True).count() == 1
