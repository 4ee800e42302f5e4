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
