"""Every metering admin page loads; the ledgers are read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from metering import services
from tests.factories.metering import event_payload, make_metric

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.test", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ["event", "eventerror", "usagerollup"])
def test_changelist_detail_and_add_pages(staff_client, organization, model):
    make_metric(organization, "calls")
    services.events_ingest(organization, [event_payload("a"), event_payload("b", code="unknown")])
    changelist = staff_client.get(f"/admin/metering/{model}/")
    assert changelist.status_code == 200
    searched = staff_client.get(f"/admin/metering/{model}/?q=a")
    assert searched.status_code == 200
    # Ledgers: no add page.
    assert staff_client.get(f"/admin/metering/{model}/add/").status_code == 403
    from django.apps import apps

    obj = apps.get_model("metering", model).objects.first()
    detail = staff_client.get(f"/admin/metering/{model}/{obj.pk}/change/")
    assert detail.status_code == 200


def test_event_page_shows_what_keeps_it_from_being_billed(staff_client, organization):
    """A failed in-advance fee (or an ingestion problem) is listed on the event's own page."""
    from metering.models import Event, EventErrorCode

    make_metric(organization, "calls")
    services.events_ingest(organization, [event_payload("poisoned")])
    event = Event.objects.get(transaction_id="poisoned")
    failure = services.EventFailure(
        event_id=event.id,
        transaction_id=event.transaction_id,
        external_subscription_id=event.external_subscription_id,
        code=event.code,
        message="charge c1: PricingError: cannot price",
    )
    services.event_failures_record(organization.id, [failure], error_code=EventErrorCode.PAY_IN_ADVANCE_FEE_FAILED)

    page = staff_client.get(f"/admin/metering/event/{event.pk}/change/")

    assert page.status_code == 200
    assert b"pay_in_advance_fee_failed" in page.content
    assert b"charge c1: PricingError: cannot price" in page.content
    listed = staff_client.get("/admin/metering/eventerror/")
    assert b"charge c1: PricingError: cannot price" in listed.content


def test_clickhouse_backfills_are_listed_read_only(staff_client, organization):
    from metering.models import ClickHouseBackfill

    row = ClickHouseBackfill.objects.create(
        organization=organization, target="127.0.0.1:9000/bxb", status="failed", last_error="counts differ"
    )
    changelist = staff_client.get("/admin/metering/clickhousebackfill/?status=failed")
    assert changelist.status_code == 200
    assert b"counts differ" in changelist.content
    assert staff_client.get(f"/admin/metering/clickhousebackfill/?q={organization.name}").status_code == 200
    assert staff_client.get(f"/admin/metering/clickhousebackfill/{row.pk}/change/").status_code == 200
    assert staff_client.get("/admin/metering/clickhousebackfill/add/").status_code == 403
