"""Usage limits (bxb extra): a privilege that references a billable metric reports the usage of the
current charges window against its value, from the same aggregation as current usage."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing_project.core.errors import NotFoundFailure
from entitlements import read_path, selectors, services
from entitlements.representation import subscription_entitlement_payload
from invoicing.selectors import current_usage
from tests.factories.customers import OrganizationFactory
from tests.factories.entitlements import make_feature
from tests.factories.usage_monitoring import at, metered_subscription, send_events

pytestmark = pytest.mark.django_db

NOW = at(2024, 3, 20, 12)


@pytest.fixture
def sub(organization):
    sub = metered_subscription(organization, started_at=at(2024, 1, 1), external_id="sub_a", metric_code="api_calls")
    make_feature(
        organization,
        "api",
        [
            {"code": "calls", "value_type": "integer", "billable_metric_code": "api_calls"},
            {"code": "burst", "value_type": "integer"},
        ],
    )
    services.plan_entitlements_update(
        organization, plan_code=sub.plan.code, entitlements={"api": {"calls": 100, "burst": 5}}, partial=False
    )
    return sub


def privilege(body, code):
    return next(p for p in body["entitlements"][0]["privileges"] if p["code"] == code)


def read(sub, when, feature_code=None):
    """The subscription's entitlements at `when`, as the API renders them."""
    resolved = selectors.subscription_entitlements(sub.organization, sub, feature_code=feature_code, at=when)
    return {"entitlements": [subscription_entitlement_payload(e) for e in resolved]}


def test_usage_so_far_and_remaining(api, sub, organization):
    send_events(sub, "api_calls", 30, at(2024, 3, 2))
    send_events(sub, "api_calls", "12.5", at(2024, 3, 19))
    send_events(sub, "api_calls", 1000, at(2024, 2, 27))  # last period: not counted
    body = read(sub, NOW)
    usage = current_usage(
        organization, external_customer_id=sub.customer.external_id, external_subscription_id="sub_a", at=NOW
    )
    calls = privilege(body, "calls")
    assert calls["billable_metric_code"] == "api_calls" and calls["value"] == 100
    assert calls["usage"] == {
        "billable_metric_code": "api_calls",
        "from_datetime": "2024-03-01T00:00:00Z",
        "to_datetime": "2024-03-31T23:59:59Z",
        "current_usage": "42.5",
        "limit": 100,
        "remaining": "57.5",
        "exceeded": False,
    }
    # The same figure as current usage.
    charge_usage = usage["charges_usage"][0]
    assert Decimal(charge_usage["units"]) == Decimal("42.5")
    assert "usage" not in privilege(body, "burst")


def test_override_raises_the_limit_and_exceeded(api, sub):
    send_events(sub, "api_calls", 150, at(2024, 3, 2))
    calls = privilege(read(sub, NOW), "calls")
    assert calls["usage"]["remaining"] == "0" and calls["usage"]["exceeded"] is True
    api.patch("/api/v1/subscriptions/sub_a/entitlements", {"entitlements": {"api": {"calls": 200}}}, format="json")
    calls = privilege(read(sub, NOW, "api"), "calls")
    assert calls["usage"]["limit"] == 200 and calls["usage"]["remaining"] == "50"
    assert calls["usage"]["exceeded"] is False


def test_a_new_period_starts_from_zero(api, sub):
    send_events(sub, "api_calls", 90, at(2024, 3, 2))
    calls = privilege(read(sub, at(2024, 4, 1, 0, 5)), "calls")
    assert calls["usage"]["current_usage"] == "0" and calls["usage"]["from_datetime"] == "2024-04-01T00:00:00Z"


def test_not_started_has_no_usage(api, organization, sub):
    pending = metered_subscription(
        organization, started_at=at(2024, 1, 1), external_id="sub_p", metric_code="api_calls_p"
    )
    pending.status = "pending"
    pending.started_at = None
    pending.plan = sub.plan
    pending.save()
    r = api.get("/api/v1/subscriptions/sub_p/entitlements?subscription_status=pending")
    assert r.status_code == 200
    assert privilege(r.json(), "calls")["usage"] is None


def test_usage_window_follows_the_customer_timezone(api, organization):
    sub = metered_subscription(organization, started_at=at(2024, 1, 1), external_id="sub_tz", metric_code="tz_calls")
    sub.customer.timezone = "America/New_York"
    sub.customer.save()
    make_feature(organization, "tz", [{"code": "calls", "value_type": "integer", "billable_metric_code": "tz_calls"}])
    services.plan_entitlements_update(
        organization, plan_code=sub.plan.code, entitlements={"tz": {"calls": 10}}, partial=False
    )
    send_events(sub, "tz_calls", 3, at(2024, 3, 1, 2))  # still February in New York
    send_events(sub, "tz_calls", 4, at(2024, 3, 1, 6))
    calls = privilege(read(sub, NOW), "calls")
    assert calls["usage"]["current_usage"] == "4"
    assert calls["usage"]["from_datetime"] == "2024-03-01T05:00:00Z"
    assert dt.datetime.fromisoformat(calls["usage"]["to_datetime"].replace("Z", "+00:00")).hour == 3


def test_through_the_api_now(api, organization):
    now = timezone.now()
    sub = metered_subscription(
        organization, started_at=now - dt.timedelta(days=400), external_id="sub_now", metric_code="now_calls"
    )
    make_feature(organization, "now", [{"code": "calls", "value_type": "integer", "billable_metric_code": "now_calls"}])
    services.plan_entitlements_update(
        organization, plan_code=sub.plan.code, entitlements={"now": {"calls": 10}}, partial=False
    )
    send_events(sub, "now_calls", 3, now - dt.timedelta(seconds=5))
    body = api.get("/api/v1/subscriptions/sub_now/entitlements").json()
    usage = privilege(body, "calls")["usage"]
    # The event is in the current window unless the window started in the last 5 seconds.
    assert usage["current_usage"] in ("3", "0") and usage["limit"] == 10
    single = api.get("/api/v1/subscriptions/sub_now/entitlements/now").json()["entitlement"]
    assert single["privileges"][0]["usage"]["limit"] == 10


def test_cached_read_sees_every_change_and_costs_few_queries(api, sub, organization, django_assert_max_num_queries):
    url = "/api/v1/subscriptions/sub_a/entitlements/api"
    api.get(url)  # resolved and cached
    with django_assert_max_num_queries(3):  # the subscription with the version, the usage; (the key is cached)
        r = api.get(url)
    assert r.status_code == 200
    services.plan_entitlements_update(
        organization, plan_code=sub.plan.code, entitlements={"api": {"calls": 7}}, partial=True
    )
    calls = next(p for p in api.get(url).json()["entitlement"]["privileges"] if p["code"] == "calls")
    assert calls["value"] == 7 and calls["usage"]["limit"] == 7
    # A change that bypassed this process's services is seen through the version alone.
    from entitlements.models import EntitlementsVersion, EntitlementValue

    EntitlementValue.live.filter(entitlement__plan=sub.plan, privilege__code="calls").update(value="9")
    assert next(p for p in api.get(url).json()["entitlement"]["privileges"] if p["code"] == "calls")["value"] == 7
    EntitlementsVersion.objects.filter(organization=organization).update(version=999)
    assert next(p for p in api.get(url).json()["entitlement"]["privileges"] if p["code"] == "calls")["value"] == 9


def test_a_warm_read_is_one_statement_on_both_routes_with_or_without_usage_limits(api, sub, organization):
    from tests.core.statements import get_counted

    for url in ("/api/v1/subscriptions/sub_a/entitlements", "/api/v1/subscriptions/sub_a/entitlements/api"):
        api.get(url)  # resolved and cached
        body, sql = get_counted(api, url)
        assert len(sql) == 1, sql  # the subscription, the entitlements version and the usage (rollups, edges)
        assert 'FROM "subscriptions_subscription"' in sql[0] and 'FROM "metering_usagerollup"' in sql[0]
        assert 'JOIN "customers_organization"' not in sql[0]
        privileges = (
            body["entitlement"]["privileges"] if "entitlement" in body else body["entitlements"][0]["privileges"]
        )
        assert next(p for p in privileges if p["code"] == "calls")["usage"]["limit"] == 100
    make_feature(organization, "sso", [{"code": "provider", "value_type": "string"}])
    services.plan_entitlements_update(
        organization, plan_code=sub.plan.code, entitlements={"sso": {"provider": "okta"}}, partial=True
    )
    api.get("/api/v1/subscriptions/sub_a/entitlements/sso")
    body, sql = get_counted(api, "/api/v1/subscriptions/sub_a/entitlements/sso")
    assert len(sql) == 1, sql
    assert body["entitlement"]["privileges"][0]["value"] == "okta"


def hot(sub, when, feature_code=None, status=None):
    """The API's read (`read_path`, the per-process cache and the one statement) at `when`, rendered."""
    resolved = read_path.subscription_entitlements_read(
        sub.organization, sub.external_id, status=status, feature_code=feature_code, at=when
    )
    return {"entitlements": [subscription_entitlement_payload(e) for e in resolved]}


def test_the_one_statement_read_answers_what_the_full_read_does_edges_included(organization):
    """Started at 10:30 and terminated at 14:20: the window starts and ends inside an hour, so the
    usage is hourly rollups plus the raw events of the two partial hours."""
    sub = metered_subscription(organization, started_at=at(2024, 3, 10, 10, 30), external_id="sub_e", metric_code="e")
    sub.status, sub.terminated_at = "terminated", at(2024, 3, 25, 14, 20)
    sub.save()
    make_feature(organization, "e", [{"code": "calls", "value_type": "integer", "billable_metric_code": "e"}])
    services.plan_entitlements_update(
        organization, plan_code=sub.plan.code, entitlements={"e": {"calls": 50}}, partial=False
    )
    when = at(2024, 3, 26)
    assert hot(sub, when, status="terminated") == read(sub, when)  # the full read, remembered
    for value, moment in (("1", at(2024, 3, 10, 10, 10)), ("2", at(2024, 3, 10, 10, 40)), ("4", at(2024, 3, 15)),
                          ("8", at(2024, 3, 25, 14, 10)), ("16", at(2024, 3, 25, 14, 50))):  # fmt: skip
        send_events(sub, "e", value, moment)
        with CaptureQueriesContext(connection) as captured:
            body = hot(sub, when, status="terminated")
        assert len(captured.captured_queries) == 1
        assert body == read(sub, when)
    usage = privilege(body, "calls")["usage"]
    assert usage["from_datetime"] == "2024-03-10T10:30:00Z" and usage["to_datetime"] == "2024-03-25T14:19:59Z"
    assert usage["current_usage"] == "14"  # 2 + 4 + 8
    assert hot(sub, when, "e", status="terminated") == read(sub, when, "e")


def test_the_one_statement_read_follows_the_period_the_timezone_and_the_subscription(api, organization, sub):
    send_events(sub, "api_calls", 5, at(2024, 3, 31, 23))
    send_events(sub, "api_calls", 7, at(2024, 4, 1, 1))
    assert privilege(hot(sub, at(2024, 3, 20)), "calls")["usage"]["current_usage"] == "5"
    assert privilege(hot(sub, at(2024, 3, 21)), "calls")["usage"]["current_usage"] == "5"
    # A new period: the window the cache knew is not the current one.
    assert privilege(hot(sub, at(2024, 4, 2)), "calls")["usage"]["current_usage"] == "7"
    # The customer moves to New York: March 31 23:00 UTC is in the New York month of March... and April 1
    # 01:00 UTC too (still March 31 there).
    sub.customer.timezone = "America/New_York"
    sub.customer.save()
    usage = privilege(hot(sub, at(2024, 3, 21)), "calls")["usage"]
    assert usage["current_usage"] == "12" and usage["from_datetime"] == "2024-03-01T05:00:00Z"
    assert hot(sub, at(2024, 3, 21)) == read(sub, at(2024, 3, 21))
    # Terminated: the active read is a 404, the terminated one reads the row.
    sub.status = "terminated"
    sub.terminated_at = at(2024, 3, 25)
    sub.save()
    with pytest.raises(NotFoundFailure):
        hot(sub, at(2024, 3, 26))
    body = hot(sub, at(2024, 3, 26), status="terminated")
    assert (
        body == read(sub, at(2024, 3, 26))
        and privilege(body, "calls")["usage"]["to_datetime"] == "2024-03-24T23:59:59Z"
    )
    with pytest.raises(NotFoundFailure):
        hot(sub, at(2024, 3, 26), status="bogus")


def test_the_one_statement_read_is_the_organizations_own(organization, sub):
    other = OrganizationFactory()
    twin = metered_subscription(other, started_at=at(2024, 1, 1), external_id="sub_a", metric_code="api_calls")
    send_events(sub, "api_calls", 3, at(2024, 3, 2))
    send_events(twin, "api_calls", 40, at(2024, 3, 2))
    for _ in range(2):  # the full read, then the one statement
        assert privilege(hot(sub, NOW), "calls")["usage"]["current_usage"] == "3"
        assert hot(twin, NOW) == {"entitlements": []}  # the other organization grants nothing


def _expire_every_entry() -> None:
    """As if `ENTITLEMENTS_CACHE_SECONDS` had passed since every entry was stored."""
    data = read_path._reads._data
    for key, (_, value) in list(data.items()):
        data[key] = (0.0, value)


def test_an_expired_entry_checks_its_metrics_and_is_kept_when_they_did_not_change(organization, sub):
    """The TTL bounds only a metric's changed definition: at expiry the read checks the definitions
    (one statement more) and keeps the entry while they are the same, instead of the full read."""
    from catalog.models import BillableMetric, BillableMetricFilter

    send_events(sub, "api_calls", 30, at(2024, 3, 2))
    send_events(sub, "api_calls", "12.5", at(2024, 3, 19))

    def counted() -> tuple[dict, list[str]]:
        with CaptureQueriesContext(connection) as captured:
            body = hot(sub, NOW)
        return body, [q["sql"] for q in captured.captured_queries]

    hot(sub, NOW)  # the full read, remembered
    assert len(counted()[1]) == 1
    _expire_every_entry()
    body, sql = counted()
    assert len(sql) == 2 and 'FROM "catalog_billablemetric"' in sql[1], sql  # checked, kept
    assert body == read(sub, NOW) and privilege(body, "calls")["usage"]["current_usage"] == "42.5"
    assert len(counted()[1]) == 1  # kept for another TTL
    # A definition changed behind the services' back: unseen until the entry expires (documented),
    # then the read finds it changed and takes the full read.
    BillableMetric.objects.filter(organization=organization, code="api_calls").update(
        rounding_function="ceil", rounding_precision=0
    )
    assert privilege(hot(sub, NOW), "calls")["usage"]["current_usage"] == "42.5"
    _expire_every_entry()
    body = hot(sub, NOW)
    assert privilege(body, "calls")["usage"]["current_usage"] == "43" and body == read(sub, NOW)
    assert len(counted()[1]) == 1
    # A live filter added counts as a change too; a removed one as well.
    metric = BillableMetric.objects.get(organization=organization, code="api_calls")
    region = BillableMetricFilter.objects.create(billable_metric=metric, key="region", values=["eu"])
    _expire_every_entry()
    assert len(counted()[1]) > 2
    assert read_path._reads.peek((organization.pk, "sub_a", "active", None))[0].specs[metric.pk].filter_keys == (
        "region",
    )
    BillableMetricFilter.objects.filter(pk=region.pk).update(deleted_at=timezone.now())
    _expire_every_entry()
    assert len(counted()[1]) > 2
    assert hot(sub, NOW) == read(sub, NOW)


def test_an_expired_entry_is_not_kept_for_an_organization_moved_to_clickhouse(organization, sub):
    hot(sub, NOW)
    _expire_every_entry()
    organization.events_store = "clickhouse"
    assert read_path._still_holds(organization, (organization.pk, "sub_a", "active", None),
                                  read_path._reads.peek((organization.pk, "sub_a", "active", None))[0]) is False  # fmt: skip
