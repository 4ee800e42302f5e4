"""Back-dated subscriptions cannot flood billing (docs/subscriptions.md, "Back-dated subscriptions").

* a `subscription_at` in the past is active since then, but billed from the current period on;
* `bill_past_periods: true` bills every past period, at most SUBSCRIPTION_MAX_PAST_PERIODS;
* one billing run makes at most BILLING_MAX_PERIODS_PER_RUN period invoices per subscription;
* dates outside 2000..2100 are refused; every datetime renders as RFC 3339.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from billing_project.core.errors import ValidationFailure
from invoicing.billing.run import customer_bill
from invoicing.models import Invoice, InvoiceSubscription
from subscriptions.inputs import SubscriptionCreate
from subscriptions.models import Subscription
from subscriptions.services import subscription_create
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


NOW = at(2026, 3, 15, 12)


def _create(organization, plan, subscription_at: str, **extra):
    data = {
        "external_customer_id": "cust-1",
        "plan_code": plan.code,
        "external_id": "sub-1",
        "subscription_at": subscription_at,
        **extra,
    }
    return subscription_create(organization, SubscriptionCreate.from_validated(data), now=NOW)


@pytest.fixture
def customer(organization):
    return make_customer(organization, external_id="cust-1", currency="USD")


def _periods(subscription) -> list[tuple[str, datetime]]:
    rows = InvoiceSubscription.objects.filter(subscription=subscription).order_by("charges_from_datetime")
    return [(row.invoicing_reason, row.from_datetime) for row in rows]


def test_a_start_years_back_bills_only_the_current_period(organization, customer):
    plan = make_plan(organization, amount_cents=1000)
    subscription = _create(organization, plan, "2001-01-01T00:00:00Z")
    assert subscription.status == "active" and subscription.started_at == at(2001, 1, 1)
    assert subscription.billing_from == NOW
    assert customer_bill(customer.id, at=NOW) == []  # nothing ended since the creation
    invoices = customer_bill(customer.id, at=at(2026, 4, 1, 1))
    assert len(invoices) == 1
    assert invoices[0].fees_amount_cents == 1000  # March, whole: the subscription ran all month
    assert _periods(subscription) == [("subscription_periodic", at(2026, 3, 1))]
    assert customer_bill(customer.id, at=at(2026, 4, 1, 2)) == []


def test_a_back_dated_start_in_advance_bills_the_current_period_once(organization, customer):
    plan = make_plan(organization, amount_cents=3100, pay_in_advance=True)
    subscription = _create(organization, plan, "2020-06-10T00:00:00Z")
    [starting] = customer_bill(customer.id, at=NOW)
    assert starting.fees_amount_cents == 3100  # 1–31 March in advance, not June 2020
    assert _periods(subscription) == [("subscription_starting", at(2026, 3, 1))]
    [april] = customer_bill(customer.id, at=at(2026, 4, 1, 1))
    assert april.fees_amount_cents == 3100
    assert Invoice.objects.filter(customer=customer).count() == 2


def test_past_periods_are_billed_only_on_request_and_within_the_limit(organization, customer):
    plan = make_plan(organization, amount_cents=1000)
    subscription = _create(organization, plan, "2025-12-01T00:00:00Z", bill_past_periods=True)
    assert subscription.billing_from is None
    invoices = customer_bill(customer.id, at=NOW)
    assert [period for _, period in _periods(subscription)] == [at(2025, 12, 1), at(2026, 1, 1), at(2026, 2, 1)]
    assert len(invoices) == 3


@override_settings(SUBSCRIPTION_MAX_PAST_PERIODS=12)
def test_too_many_past_periods_are_refused_and_nothing_is_created(organization, customer):
    plan = make_plan(organization, amount_cents=1000)
    with pytest.raises(ValidationFailure) as refused:
        _create(organization, plan, "2025-02-01T00:00:00Z", bill_past_periods=True)  # 13 months ended
    assert refused.value.details == {"subscription_at": ["too_many_past_periods"]}
    assert not Subscription.objects.filter(organization=organization).exists()
    assert _create(organization, plan, "2025-03-01T00:00:00Z", bill_past_periods=True).status == "active"  # 12


@override_settings(BILLING_MAX_PERIODS_PER_RUN=3)
def test_one_run_bills_at_most_the_per_run_limit_per_subscription(organization, customer):
    """A subscription far behind (here created directly, as before this rule) catches up over runs."""
    plan = make_plan(organization, amount_cents=1000)
    subscription = subscribe(customer, plan, at(2025, 8, 1))
    run = at(2026, 3, 2)
    assert len(customer_bill(customer.id, at=run)) == 3
    assert len(customer_bill(customer.id, at=run)) == 3
    assert len(customer_bill(customer.id, at=run)) == 1
    assert customer_bill(customer.id, at=run) == []
    assert len(_periods(subscription)) == 7  # August to February, each once


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subscription_at", "0001-01-01T00:00:00Z"),
        ("subscription_at", "1999-12-31T23:59:59Z"),
        ("subscription_at", "2101-01-01T00:00:00Z"),
        ("subscription_at", "2024-02-30T00:00:00Z"),
        ("ending_at", "3000-01-01T00:00:00Z"),
    ],
)
def test_dates_outside_2000_to_2100_are_refused(tenant, customer, field, value):
    plan = make_plan(tenant.organization, code="basic")
    body = {"external_customer_id": "cust-1", "plan_code": "basic", "external_id": "s-1", field: value}
    response = tenant.client.post("/api/v1/subscriptions", {"subscription": body}, format="json")
    assert response.status_code == 422, response.json()
    assert response.json()["error_details"] == {field: ["invalid_date"]}
    assert not Subscription.objects.filter(plan=plan).exists()


def test_the_api_flag_must_be_a_boolean(tenant, customer):
    make_plan(tenant.organization, code="basic")
    body = {"external_customer_id": "cust-1", "plan_code": "basic", "external_id": "s-1", "bill_past_periods": {}}
    response = tenant.client.post("/api/v1/subscriptions", {"subscription": body}, format="json")
    assert response.status_code == 422
    assert response.json()["error_details"] == {"bill_past_periods": ["value_is_invalid"]}


def test_a_stored_year_one_renders_as_rfc3339(tenant, customer):
    """Rows stored before the range check still render with a four-digit year."""
    plan = make_plan(tenant.organization, code="basic")
    subscribe(customer, plan, at(1, 1, 1), external_id="old-1")
    body = tenant.client.get("/api/v1/subscriptions/old-1").json()["subscription"]
    assert body["subscription_at"] == "0001-01-01T00:00:00Z"
    assert body["started_at"] == "0001-01-01T00:00:00Z"


def test_the_admin_start_form_applies_the_same_rule(client, organization, customer):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    plan = make_plan(organization, code="basic")
    start = (datetime.now(UTC) - timedelta(days=70)).strftime("%Y-%m-%d %H:%M:%S")  # two or three periods back
    form = {"customer": str(customer.pk), "plan": str(plan.pk), "billing_time": "calendar", "subscription_at": start}
    assert client.post("/admin/subscriptions/subscription/add/", {**form, "external_id": "a-1"}).status_code == 302
    assert (
        client.post(
            "/admin/subscriptions/subscription/add/", {**form, "external_id": "a-2", "bill_past_periods": "on"}
        ).status_code
        == 302
    )
    assert Subscription.objects.get(external_id="a-1").billing_from is not None
    assert Subscription.objects.get(external_id="a-2").billing_from is None
