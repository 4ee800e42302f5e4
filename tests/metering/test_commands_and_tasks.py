"""Ops commands, the daily rollup job, expressions at ingestion and the events.errors webhook."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing_project.celery import BEAT_SCHEDULE
from metering import services, tasks
from metering.models import Event, UsageRollup
from tests.factories.metering import event_payload, make_metric

pytestmark = pytest.mark.django_db

T0 = int(datetime(2024, 3, 10, 12, 0, tzinfo=UTC).timestamp())


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_replay_events_from_json_lines(tmp_path, organization):
    make_metric(organization, "calls", "sum_agg", field_name="n")
    path = tmp_path / "events.jsonl"
    lines = [
        json.dumps(event_payload(f"t{i}", code="calls", timestamp=T0 + i, properties={"n": 1.5})) for i in range(5)
    ]
    lines += ["", "not json", json.dumps({"transaction_id": "x"}), lines[0]]
    path.write_text("\n".join(lines) + "\n")
    out, err = run("replay_events", str(organization.id), str(path), "--batch-size", "2")
    assert "8 lines: 5 stored, 1 duplicates, 2 rejected" in out
    assert "line 7: rejected" in err
    assert "lines/s" in err
    assert Event.objects.filter(organization=organization).count() == 5
    assert sum(Event.objects.values_list("value", flat=True)) == Decimal("7.5")
    # Replaying the same file again stores nothing new.
    out, _ = run("replay_events", organization.name, str(path), "--no-progress")
    assert "0 stored, 6 duplicates, 2 rejected" in out


def test_replay_events_rejects_bad_batch_size(tmp_path, organization):
    path = tmp_path / "e.jsonl"
    path.write_text("")
    with pytest.raises(CommandError):
        run("replay_events", str(organization.id), str(path), "--batch-size", "0")


def test_inspect_usage(organization):
    make_metric(organization, "gb", "sum_agg", field_name="gb")
    services.events_ingest(
        organization,
        [
            event_payload("a", code="gb", timestamp=T0, properties={"gb": 2, "region": "eu"}),
            event_payload("b", code="gb", timestamp=T0 + 7200, properties={"gb": 3}),
        ],
    )
    out, _ = run("inspect_usage", str(organization.id), "sub_1", "gb", "--from", "2024-03-01", "--to", "2024-04-01")
    assert "units: 5" in out
    assert "events: 2" in out
    assert "source: rollups" in out
    out, _ = run(
        "inspect_usage",
        str(organization.id),
        "sub_1",
        "gb",
        "--from",
        "2024-03-01",
        "--to",
        "2024-04-01",
        "--group-by",
        "region",
    )
    assert "{'region': 'eu'}: units 2, events 1" in out
    with pytest.raises(CommandError):
        run("inspect_usage", str(organization.id), "sub_1", "nope", "--from", "2024-03-01", "--to", "2024-04-01")


def test_rebuild_usage_rollups_command(organization):
    services.events_ingest(organization, [event_payload("a", code="late", timestamp=T0, properties={"v": 4})])
    assert not UsageRollup.objects.exists()
    make_metric(organization, "late", "sum_agg", field_name="v")
    out, _ = run(
        "rebuild_usage_rollups", "--from", "2024-03-01", "--to", "2024-04-01", "--organization", organization.name
    )
    assert "1 events, 1 values updated, 1 rollup rows" in out
    assert UsageRollup.objects.get().value_sum == 4
    with pytest.raises(CommandError):
        run("rebuild_usage_rollups", "--from", "2024-04-01", "--to", "2024-03-01")


def test_daily_job_rebuilds_yesterday(organization, django_capture_on_commit_callbacks):
    services.events_ingest(organization, [event_payload("a", code="d", timestamp=T0, properties={"v": 4})])
    make_metric(organization, "d", "sum_agg", field_name="v")
    out, _ = run("rollup_usage_daily", "--date", "2024-03-10", "--dry-run")
    assert f"would rebuild 2024-03-10 for {organization.name}" in out
    assert not UsageRollup.objects.exists()
    out, _ = run("rollup_usage_daily", "--date", "2024-03-10")
    assert "rebuilt the rollups of 1 organizations" in out
    assert UsageRollup.objects.get().value_sum == 4
    # The beat task runs twice without harm.
    assert tasks.usage_rollups_daily_task("2024-03-10T00:00:00+00:00") == 1
    assert tasks.usage_rollups_daily_task("2024-03-10T00:00:00+00:00") == 1
    assert UsageRollup.objects.get().value_sum == 4
    assert tasks.usage_rollups_daily_task() == 0


def test_beat_schedule_declares_the_daily_rollup():
    entry = BEAT_SCHEDULE["metering-rollup-usage-daily"]
    assert entry["task"] == "metering.tasks.usage_rollups_daily_task"
    assert entry["schedule"].hour == {0}
    assert entry["schedule"].minute == {30}


def test_expression_value_is_computed_at_ingestion(organization):
    make_metric(
        organization,
        "compute",
        "sum_agg",
        field_name="total",
        expression="round(event.properties.a * event.properties.b, 2)",
    )
    result = services.events_ingest(
        organization,
        [
            event_payload("e1", code="compute", timestamp=T0, properties={"a": "1.005", "b": 3}),
            event_payload("e2", code="compute", timestamp=T0, properties={"a": "x"}),
        ],
    )
    stored = Event.objects.get(transaction_id="e1")
    assert stored.value == Decimal("3.02")
    assert Decimal(str(stored.properties["total"])) == Decimal("3.02")
    assert [[c for c in e.errors if c != "unknown_subscription"] for e in result.events] == [[], ["expression_failed"]]


def test_events_errors_webhook_is_queued(organization):
    from webhooks.models import WebhookDelivery, WebhookEndpoint

    WebhookEndpoint.objects.create(
        organization=organization, webhook_url="http://127.0.0.1:9/hook", signature_algo="hmac"
    )
    make_metric(organization, "calls")
    services.events_ingest(organization, [event_payload("a", code="nope"), event_payload("b", code="calls")])
    delivery = WebhookDelivery.objects.get(organization=organization, webhook_type="events.errors")
    assert delivery.object_type == "events_errors"
    body = json.loads(delivery.body)
    assert body["events_errors"] == {"invalid_code": ["a"]}
