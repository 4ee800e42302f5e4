"""A subscription read with its followers (the subscriptions created to replace it) on its own row
(PostgreSQL: JSON, `subscriptions.selectors.FOLLOWERS`) answers byte for byte what the prefetching
read answers (the other databases' way), in every status, by id and in lists; and the statements."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from billing_project.core import json_rows
from subscriptions.models import SubscriptionStatus
from tests.core.statements import get_counted
from tests.factories.subscriptions import SubscriptionFactory, SubscriptionPlanFactory

pytestmark = pytest.mark.django_db


def _at(day: int) -> datetime:
    return datetime(2024, 1, day, tzinfo=UTC)


@pytest.fixture
def chains(tenant, other_tenant):
    org = tenant.organization
    basic = SubscriptionPlanFactory(organization=org, code="basic", amount_cents=900)
    premium = SubscriptionPlanFactory(organization=org, code="premium", amount_cents=4900, interval="yearly")
    weekly = SubscriptionPlanFactory(organization=org, code="weekly", amount_cents=100, interval="weekly")
    # active with a scheduled downgrade (a pending follower) and a canceled one before it
    up = SubscriptionFactory(organization=org, external_id="up", plan=premium, billing_time="anniversary")
    SubscriptionFactory(organization=org, external_id="up", plan=weekly, customer=up.customer,
                        previous_subscription=up, status=SubscriptionStatus.CANCELED, canceled_at=_at(3),
                        started_at=None, created_at=_at(3))  # fmt: skip
    SubscriptionFactory(organization=org, external_id="up", plan=basic, customer=up.customer,
                        previous_subscription=up, status=SubscriptionStatus.PENDING, started_at=None,
                        created_at=_at(4))  # fmt: skip
    # terminated, replaced by an active one on another plan (its successor), itself with a predecessor
    old = SubscriptionFactory(organization=org, external_id="moved", plan=basic,
                              status=SubscriptionStatus.TERMINATED, terminated_at=_at(10), created_at=_at(1))  # fmt: skip
    SubscriptionFactory(organization=org, external_id="moved", plan=premium, customer=old.customer,
                        previous_subscription=old, started_at=_at(10), created_at=_at(10))  # fmt: skip
    # terminated twice under one id (the newest termination answers), canceled, pending, plain
    for day in (5, 7):
        SubscriptionFactory(organization=org, external_id="twice", plan=weekly, status=SubscriptionStatus.TERMINATED,
                            terminated_at=_at(day), name=f"ended {day}")  # fmt: skip
    SubscriptionFactory(organization=org, external_id="dropped", plan=basic, status=SubscriptionStatus.CANCELED,
                        canceled_at=_at(2), started_at=None)  # fmt: skip
    SubscriptionFactory(organization=org, external_id="later", plan=premium, status=SubscriptionStatus.PENDING,
                        subscription_at=_at(28), started_at=None)  # fmt: skip
    SubscriptionFactory(organization=org, external_id="plain", plan=basic, ending_at=_at(30), name="Plain")
    SubscriptionFactory(organization=other_tenant.organization, external_id="plain")
    tenant.client.get("/api/v1/plans")  # the key's first use
    return tenant


BY_ID = [
    "/api/v1/subscriptions/up",
    "/api/v1/subscriptions/up?status=pending",
    "/api/v1/subscriptions/up?status=canceled",
    "/api/v1/subscriptions/moved",
    "/api/v1/subscriptions/moved?status=terminated",
    "/api/v1/subscriptions/twice?status=terminated",
    "/api/v1/subscriptions/dropped?status=canceled",
    "/api/v1/subscriptions/later?status=pending",
    "/api/v1/subscriptions/plain",
]
LISTS = [
    "/api/v1/subscriptions",
    "/api/v1/subscriptions?per_page=1",
    "/api/v1/subscriptions?status[]=terminated&status[]=active&status[]=pending&status[]=canceled",
    "/api/v1/subscriptions?status[]=terminated&per_page=2&page=2",
]


@pytest.mark.parametrize("path", BY_ID + LISTS)
def test_the_followers_on_the_row_answer_what_the_prefetch_answers(chains, path, monkeypatch):
    one = chains.client.get(path)
    monkeypatch.setattr(json_rows, "supported", lambda alias: False)
    prefetched = chains.client.get(path)
    assert one.status_code == prefetched.status_code == 200
    assert one.content == prefetched.content


def test_the_followers_show(chains):
    up = chains.client.get("/api/v1/subscriptions/up").json()["subscription"]
    assert up["next_plan_code"] == "basic"
    assert (
        chains.client.get("/api/v1/subscriptions/moved?status=terminated").json()["subscription"]["next_plan_code"]
        == "premium"
    )
    assert chains.client.get("/api/v1/subscriptions/twice?status=terminated").json()["subscription"]["name"] == (
        "ended 7"
    )
    assert chains.client.get("/api/v1/subscriptions/plain?status=terminated").status_code == 404


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the followers ride on the row on PostgreSQL")
@pytest.mark.parametrize("path", BY_ID)
def test_a_subscription_by_id_is_one_statement_in_every_status(chains, path):
    _, sql = get_counted(chains.client, path)
    assert len(sql) == 1, sql


@pytest.mark.parametrize("page", ["", "?per_page=1", "?per_page=2&page=2", "?per_page=2&page=9"])
def test_the_compiled_unfiltered_pages_answer_what_the_filtered_list_answers(chains, page):
    # No filter: `subscriptions.selectors.ACTIVE_PAGES` (compiled once); `status[]=active`, the same
    # list through the ORM.
    compiled = chains.client.get(f"/api/v1/subscriptions{page}")
    by_orm = chains.client.get(f"/api/v1/subscriptions{page}{'&' if page else '?'}status[]=active")
    assert compiled.status_code == by_orm.status_code == 200
    assert compiled.content == by_orm.content
    assert compiled.json()["meta"]["total_count"] == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the followers ride on the row on PostgreSQL")
def test_an_unfiltered_page_is_one_statement(chains):
    body, sql = get_counted(chains.client, "/api/v1/subscriptions?per_page=1")
    assert len(sql) == 1, sql
    assert [s["external_id"] for s in body["subscriptions"]] == ["plain"]
