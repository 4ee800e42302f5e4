"""Alerts (docs/billing-semantics.md §11): every type crossing and not crossing, recurring thresholds,
once per period, the `alert.triggered` webhook, and the ingestion → mark → evaluate path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import BillableMetric
from invoicing.billing.run import customer_bill
from tests.factories.usage_monitoring import (
    alert_webhooks,
    at,
    make_alert,
    metered_subscription,
    send_events,
    webhook_endpoint,
)
from usage_monitoring.models import AlertCrossing, TriggeredAlert, UsageActivity
from usage_monitoring.services.evaluation import activities_due, crossed_points, subscription_evaluate

pytestmark = pytest.mark.django_db

T0 = at(2024, 3, 1)


def evaluate(sub, now):
    return subscription_evaluate(sub.organization, external_subscription_id=sub.external_id, now=now, force=True)


@pytest.fixture
def sub(organization):
    webhook_endpoint(organization)
    # 1 unit = $1.00 = 100 cents
    return metered_subscription(organization, started_at=T0, amount="1")


def metric(sub):
    return BillableMetric.objects.get(organization=sub.organization, code="units")


@pytest.mark.parametrize(
    ("alert_type", "with_metric", "threshold", "below", "above"),
    [
        ("current_usage_amount", False, "5000", 49, 50),  # cents: 49 units = 4,900 < 5,000
        ("billable_metric_current_usage_amount", True, "5000", 49, 50),
        ("billable_metric_current_usage_units", True, "50", 49, 50),
        ("lifetime_usage_amount", False, "5000", 49, 50),
        ("billable_metric_lifetime_usage_units", True, "50", 49, 50),
    ],
)
def test_each_subscription_alert_type_crosses_and_does_not_cross(sub, alert_type, with_metric, threshold, below, above):
    alert = make_alert(sub, alert_type, [(threshold, False)], metric=metric(sub) if with_metric else None)
    send_events(sub, "units", below, at(2024, 3, 5))
    evaluate(sub, at(2024, 3, 5, 1))
    assert alert_webhooks(sub.organization) == []
    send_events(sub, "units", above - below, at(2024, 3, 6))
    evaluate(sub, at(2024, 3, 6, 1))
    [hook] = alert_webhooks(sub.organization)
    assert hook["alert_type"] == alert_type
    assert hook["alert_code"] == alert.code
    assert hook["external_subscription_id"] == sub.external_id
    assert Decimal(hook["current_value"]) == Decimal(threshold)
    assert Decimal(hook["previous_value"]) == Decimal(threshold) - Decimal(threshold) / 50
    assert hook["crossed_thresholds"] == [{"code": "t0", "value": threshold, "recurring": False}]
    assert hook["billable_metric_code"] == ("units" if with_metric else None)
    # evaluating again without new usage, or with more usage, never alerts twice for that threshold
    evaluate(sub, at(2024, 3, 6, 2))
    send_events(sub, "units", 10, at(2024, 3, 7))
    evaluate(sub, at(2024, 3, 7, 1))
    assert len(alert_webhooks(sub.organization)) == 1
    alert.refresh_from_db()
    assert alert.last_triggered_at == at(2024, 3, 6, 1)
    assert alert.thresholds.get().last_triggered_at == at(2024, 3, 6, 1)


def test_several_thresholds_crossed_at_once_are_one_webhook(sub):
    make_alert(sub, "current_usage_amount", [("1000", False), ("2000", False), ("9000", False)])
    send_events(sub, "units", 25, at(2024, 3, 5))
    evaluate(sub, at(2024, 3, 5, 1))
    [hook] = alert_webhooks(sub.organization)
    assert [t["value"] for t in hook["crossed_thresholds"]] == ["1000", "2000"]


def test_recurring_threshold_fires_every_step_after_the_last_step(sub):
    make_alert(sub, "billable_metric_current_usage_units", [("10", False), ("5", True)], metric=metric(sub))
    send_events(sub, "units", 12, at(2024, 3, 2))
    evaluate(sub, at(2024, 3, 2, 1))  # 12: crosses 10
    send_events(sub, "units", 2, at(2024, 3, 3))
    evaluate(sub, at(2024, 3, 3, 1))  # 14: nothing (next recurring point is 15)
    send_events(sub, "units", 2, at(2024, 3, 4))
    evaluate(sub, at(2024, 3, 4, 1))  # 16: crosses 15
    send_events(sub, "units", 12, at(2024, 3, 5))
    evaluate(sub, at(2024, 3, 5, 1))  # 28: crosses 20 and 25 -> one webhook naming the recurring threshold
    hooks = alert_webhooks(sub.organization)
    assert [h["current_value"] for h in hooks] == ["12", "16", "28"]
    assert hooks[0]["crossed_thresholds"] == [{"code": "t0", "value": "10", "recurring": False}]
    assert hooks[1]["crossed_thresholds"] == [{"code": "t1", "value": "5", "recurring": True}]
    assert hooks[2]["crossed_thresholds"] == [{"code": "t1", "value": "5", "recurring": True}]
    points = sorted(AlertCrossing.objects.values_list("point", flat=True))
    assert points == [Decimal(10), Decimal(15), Decimal(25)]


def test_recurring_only_threshold_counts_from_zero(sub):
    make_alert(sub, "current_usage_amount", [("1000", True)])
    send_events(sub, "units", 9, at(2024, 3, 2))
    evaluate(sub, at(2024, 3, 2, 1))
    send_events(sub, "units", 1, at(2024, 3, 3))
    evaluate(sub, at(2024, 3, 3, 1))
    send_events(sub, "units", 10, at(2024, 3, 4))
    evaluate(sub, at(2024, 3, 4, 1))
    assert [h["current_value"] for h in alert_webhooks(sub.organization)] == ["1000", "2000"]


def test_current_usage_alert_fires_again_in_the_next_period_lifetime_does_not(sub):
    make_alert(sub, "current_usage_amount", [("1000", False)], code="current")
    make_alert(sub, "lifetime_usage_amount", [("1000", False)], code="lifetime")
    send_events(sub, "units", 10, at(2024, 3, 10))
    evaluate(sub, at(2024, 3, 10, 1))
    assert sorted(h["alert_code"] for h in alert_webhooks(sub.organization)) == ["current", "lifetime"]
    customer_bill(sub.customer_id, at=at(2024, 4, 1, 1))  # March is invoiced
    send_events(sub, "units", 10, at(2024, 4, 10))
    evaluate(sub, at(2024, 4, 10, 1))
    hooks = alert_webhooks(sub.organization)
    assert [h["alert_code"] for h in hooks].count("current") == 2
    assert [h["alert_code"] for h in hooks].count("lifetime") == 1


def test_lifetime_amount_counts_invoiced_periods(sub):
    make_alert(sub, "lifetime_usage_amount", [("1500", False)])
    send_events(sub, "units", 10, at(2024, 3, 10))
    customer_bill(sub.customer_id, at=at(2024, 4, 1, 1))
    send_events(sub, "units", 4, at(2024, 4, 2))
    evaluate(sub, at(2024, 4, 2, 1))  # 1,000 invoiced + 400 current
    assert alert_webhooks(sub.organization) == []
    send_events(sub, "units", 1, at(2024, 4, 3))
    evaluate(sub, at(2024, 4, 3, 1))
    [hook] = alert_webhooks(sub.organization)
    assert hook["current_value"] == "1500"


def test_alerts_of_other_subscriptions_and_deleted_alerts_stay_quiet(organization, sub):
    other = metered_subscription(organization, started_at=T0, metric_code="other_units", customer=sub.customer)
    make_alert(other, "current_usage_amount", [("100", False)])
    gone = make_alert(sub, "current_usage_amount", [("100", False)])
    gone.deleted_at = at(2024, 3, 1)
    gone.save()
    send_events(sub, "units", 10, at(2024, 3, 5))
    evaluate(sub, at(2024, 3, 5, 1))
    assert alert_webhooks(organization) == []


def test_no_webhook_endpoint_still_records_the_trigger(organization):
    sub = metered_subscription(organization, started_at=T0)
    make_alert(sub, "current_usage_amount", [("100", False)])
    send_events(sub, "units", 1, at(2024, 3, 5))
    evaluate(sub, at(2024, 3, 5, 1))
    assert TriggeredAlert.objects.count() == 1
    assert alert_webhooks(organization) == []


def test_ingestion_marks_touched_subscriptions_once_and_evaluation_clears_the_mark(sub):
    make_alert(sub, "current_usage_amount", [("100", False)])
    send_events(sub, "units", 1, timezone.now() - dt.timedelta(minutes=1), count=150)  # two batches, one mark
    assert UsageActivity.objects.filter(external_subscription_id=sub.external_id).count() == 1
    assert activities_due() == [(sub.organization_id, sub.external_id)]
    now = UsageActivity.objects.get().marked_at
    result = subscription_evaluate(sub.organization, external_subscription_id=sub.external_id, now=now)
    assert result is not None and len(result["triggered_alerts"]) == 1
    assert activities_due() == []
    # nothing new: the next task for the same subscription does no work
    assert subscription_evaluate(sub.organization, external_subscription_id=sub.external_id, now=now) is None


def test_unknown_subscription_events_mark_nothing(organization):
    from metering.services import events_ingest

    events_ingest(
        organization,
        [{"transaction_id": "t1", "code": "units", "external_subscription_id": "nope", "properties": {"value": "1"}}],
    )
    assert not UsageActivity.objects.exists()


@pytest.mark.parametrize(
    ("value", "recorded", "expected"),
    [
        ("9", set(), []),
        ("10", set(), ["10"]),
        ("10", {Decimal(10)}, []),
        ("35", {Decimal(10)}, ["30"]),
        ("35", {Decimal(10), Decimal(30)}, []),
        ("40", {Decimal(10), Decimal(30)}, ["40"]),
        ("100.5", set(), ["10", "100"]),
    ],
)
def test_crossed_points(value, recorded, expected):
    class T:
        def __init__(self, value, recurring):
            self.value, self.recurring = Decimal(value), recurring

    points = crossed_points([T("10", False), T("10", True)], Decimal(value), recorded)
    assert [str(p) for _, p in points] == expected


def test_only_watched_subscriptions_are_marked_and_queued(
    organization, sub, monkeypatch, django_capture_on_commit_callbacks
):
    from usage_monitoring import tasks

    quiet = metered_subscription(organization, started_at=T0, metric_code="other", customer=sub.customer)
    make_alert(sub, "current_usage_amount", [("100000", False)])
    queued: list[str] = []
    monkeypatch.setattr(tasks.evaluate_subscription, "delay", lambda org_id, ext: queued.append(ext))
    when = timezone.now() - dt.timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        send_events(sub, "units", 1, when, count=250)  # three batches
        send_events(quiet, "other", 1, when, count=10)  # nothing watches it
    assert queued == [sub.external_id] * 3  # one per batch for the watched subscription only
    assert not UsageActivity.objects.filter(external_subscription_id=quiet.external_id).exists()
    subscription_evaluate(sub.organization, external_subscription_id=sub.external_id)
    with django_capture_on_commit_callbacks(execute=True):
        send_events(sub, "units", 1, when)
    assert queued == [sub.external_id] * 4
