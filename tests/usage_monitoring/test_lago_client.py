"""Lago's official Python client drives alerts and lifetime usage end to end against a live server;
events sent through the client trigger `alert.triggered` and a progressive invoice."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import Event
from lago_python_client.models.alert import Alert, AlertsList, AlertThreshold, AlertThresholdList
from lago_python_client.models.event import BatchEvent

from catalog.models import UsageThreshold
from invoicing.models import Invoice, InvoiceType
from tests.factories.usage_monitoring import metered_subscription, webhook_endpoint
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


def test_alerts_and_lifetime_usage_with_lago_client(lago):
    client = lago.client
    organization = lago.organization
    webhook_endpoint(organization)
    sub = metered_subscription(
        organization, started_at=datetime(2024, 1, 1, tzinfo=UTC), external_id="lc-sub", amount="1"
    )
    UsageThreshold.objects.create(organization=organization, plan=sub.plan, amount_cents=5000)

    alerts = client.subscriptions.create_alerts(
        "lc-sub",
        AlertsList(
            alerts=[
                Alert(
                    alert_type="current_usage_amount",
                    code="spend",
                    name="Spend",
                    thresholds=AlertThresholdList(
                        __root__=[
                            AlertThreshold(code="warn", value="3000"),
                            AlertThreshold(value="1000", recurring=True),
                        ]
                    ),
                ),
                Alert(
                    alert_type="billable_metric_current_usage_units",
                    code="units",
                    billable_metric_code="units",
                    thresholds=AlertThresholdList(__root__=[AlertThreshold(value="40")]),
                ),
            ]
        ),
    )
    created = alerts["alerts"]
    assert [a.code for a in created] == ["spend", "units"]
    assert created[0].thresholds.__root__[0].value == "3000"
    assert created[0].thresholds.__root__[1].recurring is True
    assert created[1].billable_metric.code == "units"

    with pytest.raises(LagoApiError) as error:
        client.subscriptions.create_alerts("nope", AlertsList(alerts=[]))
    assert error.value.status_code == 404

    # events through the client: 35 units = 3,500 cents → "spend" crosses 3,000 (not yet 4,000)
    for index in range(35):
        client.events.create(
            Event(
                transaction_id=f"lc-{index}-{uuid.uuid4().hex[:6]}",
                code="units",
                external_subscription_id="lc-sub",
                properties={"value": "1"},
            )
        )
    hooks = [
        json.loads(d.body)["triggered_alert"] for d in WebhookDelivery.objects.filter(webhook_type="alert.triggered")
    ]
    assert [(h["alert_code"], h["current_value"]) for h in hooks] == [("spend", "3000")]
    assert hooks[0]["crossed_thresholds"][0]["value"] == "3000"

    # 20 more in one batch: units crosses 40, spend crosses 4,000 and 5,000 (recurring), threshold 5,000 bills
    client.events.batch_create(
        BatchEvent(
            events=[
                Event(
                    transaction_id=f"lb-{index}-{uuid.uuid4().hex[:6]}",
                    code="units",
                    external_subscription_id="lc-sub",
                    properties={"value": "1"},
                )
                for index in range(20)
            ]
        )
    )
    codes = sorted(
        json.loads(d.body)["triggered_alert"]["alert_code"]
        for d in WebhookDelivery.objects.filter(webhook_type="alert.triggered")
    )
    assert codes == ["spend", "spend", "units"]
    [progressive] = Invoice.objects.filter(organization=organization, invoice_type=InvoiceType.PROGRESSIVE_BILLING)
    assert progressive.total_amount_cents == 5500

    usage = client.subscriptions.lifetime_usage("lc-sub")
    assert usage.external_subscription_id == "lc-sub"
    assert usage.current_usage_amount_cents == 5500
    assert usage.usage_thresholds[0].amount_cents == 5000
    assert usage.usage_thresholds[0].completion_ratio == 1.0
    assert usage.usage_thresholds[0].reached_at is not None
    usage = client.subscriptions.update_lifetime_usage("lc-sub", 1234)
    assert usage.external_historical_usage_amount_cents == 1234

    assert client.subscriptions.delete_alerts("lc-sub") is None
    assert client.subscriptions.lifetime_usage("lc-sub").lago_subscription_id == str(sub.id)
    with pytest.raises(LagoApiError) as error:
        client.subscriptions.lifetime_usage("missing")
    assert error.value.status_code == 404


def test_wallet_alerts_with_lago_client(lago):
    from tests.factories.credits import make_wallet
    from tests.factories.invoicing import make_customer
    from usage_monitoring.services.evaluation import wallet_alerts_evaluate

    client = lago.client
    organization = lago.organization
    webhook_endpoint(organization)
    customer = make_customer(organization, external_id="lc-cus", currency="USD")
    wallet = make_wallet(customer, granted="100", code="prepaid")
    alerts = client.customers.wallets.alerts
    created = alerts.create(
        "lc-cus",
        "prepaid",
        Alert(
            alert_type="wallet_credits_balance",
            code="low",
            thresholds=AlertThresholdList(__root__=[AlertThreshold(value="150")]),
        ),
    )
    assert created.code == "low" and created.lago_wallet_id == str(wallet.id) and created.wallet_code == "prepaid"
    batch = alerts.create_batch(
        "lc-cus",
        "prepaid",
        AlertsList(
            alerts=[
                Alert(
                    alert_type="wallet_balance_amount",
                    code="low_amount",
                    thresholds=AlertThresholdList(__root__=[AlertThreshold(value="5000")]),
                )
            ]
        ),
    )
    assert [a.code for a in batch["alerts"]] == ["low_amount"]
    assert [a.code for a in alerts.find_all("lc-cus", "prepaid")["alerts"]] == ["low", "low_amount"]
    assert alerts.find("lc-cus", "prepaid", "low").thresholds.__root__[0].value == "150"
    updated = alerts.update(
        "lc-cus", "prepaid", "low", Alert(thresholds=AlertThresholdList(__root__=[AlertThreshold(value="120")]))
    )
    assert updated.thresholds.__root__[0].value == "120"
    [triggered] = wallet_alerts_evaluate(wallet.id)  # 100 credits ≤ 120; the amount alert (50.00 USD) stays quiet
    assert triggered.alert.code == "low"
    hooks = [
        json.loads(d.body)["triggered_alert"] for d in WebhookDelivery.objects.filter(webhook_type="alert.triggered")
    ]
    assert [h["alert_code"] for h in hooks] == ["low"]
    assert alerts.destroy("lc-cus", "prepaid", "low").code == "low"
    assert alerts.destroy_all("lc-cus", "prepaid") is None
    assert alerts.find_all("lc-cus", "prepaid")["alerts"] == []
    with pytest.raises(LagoApiError) as error:
        alerts.find("lc-cus", "missing", "low")
    assert error.value.status_code == 404
