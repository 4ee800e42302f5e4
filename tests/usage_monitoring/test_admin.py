"""Every usage_monitoring admin page loads; ledgers are read-only; the subscription page shows the
alerts; progressive invoices link to the period-end invoice that deducted them."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from invoicing.billing.run import customer_bill
from tests.factories.usage_monitoring import at, make_alert, metered_subscription, send_events
from usage_monitoring import selectors
from usage_monitoring.models import Alert, AppliedUsageThreshold, LifetimeUsage, TriggeredAlert, UsageActivity
from usage_monitoring.services.evaluation import subscription_evaluate

pytestmark = pytest.mark.django_db

MODELS = ["alert", "triggeredalert", "lifetimeusage", "appliedusagethreshold", "usageactivity"]


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.test", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def billed(organization):
    sub = metered_subscription(organization, started_at=at(2024, 3, 1), amount="1", thresholds=[(1000, False)])
    make_alert(sub, "current_usage_amount", [("500", False), ("100", True)], code="spend")
    send_events(sub, "units", 10, at(2024, 3, 2))
    result = subscription_evaluate(
        organization, external_subscription_id=sub.external_id, now=at(2024, 3, 2, 1), force=True
    )
    send_events(sub, "units", 1, at(2024, 3, 3))
    [period_end] = customer_bill(sub.customer_id, at=at(2024, 4, 1, 1))
    return sub, result["progressive_invoice"], period_end


@pytest.mark.parametrize("model", MODELS)
def test_changelist_search_detail_and_no_add(staff_client, billed, model):
    assert staff_client.get(f"/admin/usage_monitoring/{model}/").status_code == 200
    assert staff_client.get(f"/admin/usage_monitoring/{model}/?q=x").status_code == 200
    assert staff_client.get(f"/admin/usage_monitoring/{model}/add/").status_code == 403
    from django.apps import apps

    obj = apps.get_model("usage_monitoring", model).objects.first()
    assert staff_client.get(f"/admin/usage_monitoring/{model}/{obj.pk}/change/").status_code == 200


def test_progressive_invoice_links_to_its_period_end_invoice(staff_client, billed):
    _sub, progressive, period_end = billed
    assert selectors.deducted_on(progressive) == period_end
    page = staff_client.get(f"/admin/usage_monitoring/lifetimeusage/{LifetimeUsage.objects.get().pk}/change/")
    html = page.content.decode()
    assert progressive.number in html and period_end.number in html
    applied = AppliedUsageThreshold.objects.get()
    page = staff_client.get("/admin/usage_monitoring/appliedusagethreshold/").content.decode()
    assert period_end.number in page and applied.invoice.number in page


def test_subscription_page_lists_alerts_with_last_triggered(staff_client, billed):
    sub, _, _ = billed
    page = staff_client.get(f"/admin/subscriptions/subscription/{sub.pk}/change/").content.decode()
    assert "spend" in page and "last triggered 2024-03-02 01:00 UTC" in page
    assert "Lifetime usage" in page
    alert_page = staff_client.get(f"/admin/usage_monitoring/alert/{Alert.objects.get().pk}/change/").content.decode()
    assert "500" in alert_page and TriggeredAlert.objects.count() == 1


def test_admin_actions_call_services(staff_client, billed):
    alert = Alert.objects.get()
    r = staff_client.post(
        "/admin/usage_monitoring/alert/", {"action": "delete_alerts", "_selected_action": [alert.pk]}, follow=True
    )
    assert r.status_code == 200
    alert.refresh_from_db()
    assert alert.deleted_at is not None
    row = LifetimeUsage.objects.get()
    r = staff_client.post(
        "/admin/usage_monitoring/lifetimeusage/", {"action": "recalculate", "_selected_action": [row.pk]}, follow=True
    )
    assert r.status_code == 200
    assert UsageActivity.objects.get().processed_at is not None
