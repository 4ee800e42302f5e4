"""Lifecycle through the services: start, pending, plan changes, trials, endings, refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing_project.core.actor import ACTOR_SYSTEM, Actor, acting_as
from billing_project.core.errors import NotAllowedFailure, NotFoundFailure, ValidationFailure
from customers.services import customer_delete
from subscriptions import selectors, services, state_machine
from subscriptions.inputs import SubscriptionCreate, SubscriptionUpdate
from subscriptions.models import Subscription, SubscriptionTransition
from tests.factories.customers import CustomerFactory
from tests.factories.subscriptions import SubscriptionPlanFactory, charge_for
from tests.factories.webhooks import WebhookEndpointFactory
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def endpoint(organization):
    return WebhookEndpointFactory(organization=organization)


def webhook_types(organization) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(organization=organization, object_type="subscription")
        .order_by("created_at")
        .values_list("webhook_type", flat=True)
    )


def create(organization, now, **data):
    body = {"external_customer_id": "cust-1", "plan_code": "basic", "external_id": "sub-1", **data}
    with acting_as(Actor(ACTOR_SYSTEM, label="test")):  # the ambient actor names the transitions
        return services.subscription_create(organization, SubscriptionCreate.from_validated(body), now=now)


@pytest.fixture
def basic(organization):
    return SubscriptionPlanFactory(organization=organization, code="basic", amount_cents=10000)


@pytest.fixture
def premium(organization):
    return SubscriptionPlanFactory(organization=organization, code="premium", amount_cents=20000)


@pytest.fixture
def starter(organization):
    return SubscriptionPlanFactory(organization=organization, code="starter", amount_cents=5000)


def test_past_start_is_active_since_then_and_creates_the_customer(organization, basic, endpoint):
    sub = create(organization, utc(2024, 1, 15, 10), subscription_at="2024-01-10T08:00:00Z")
    assert sub.status == "active"
    assert sub.started_at == utc(2024, 1, 10, 8)
    assert sub.customer.external_id == "cust-1"
    assert sub.customer.currency == "USD"
    assert webhook_types(organization) == ["subscription.started"]
    transitions = list(SubscriptionTransition.objects.filter(subscription=sub).order_by("created_at"))
    assert [(t.event, t.from_status, t.to_status, t.actor) for t in transitions] == [
        ("create", "", "pending", "test"),
        ("activate", "pending", "active", "test"),
    ]


def test_future_start_is_pending_then_activated_by_the_job(organization, basic, endpoint):
    sub = create(organization, utc(2024, 1, 15), subscription_at="2024-02-01T00:00:00Z")
    assert sub.status == "pending"
    assert sub.activation_at == utc(2024, 2, 1)
    assert services.subscription_activate_due(sub.pk, at=utc(2024, 1, 31, 23)) is False
    assert services.subscription_activate_due(sub.pk, at=utc(2024, 2, 1, 0, 30)) is True
    assert services.subscription_activate_due(sub.pk, at=utc(2024, 2, 1, 0, 30)) is False  # twice is harmless
    sub.refresh_from_db()
    assert sub.status == "active"
    assert sub.started_at == utc(2024, 2, 1)
    assert webhook_types(organization) == ["subscription.started"]


def test_unknown_plan_and_missing_fields(organization, basic):
    with pytest.raises(NotFoundFailure) as missing:
        create(organization, utc(2024, 1, 1), plan_code="nope")
    assert missing.value.code == "plan_not_found"
    with pytest.raises(ValidationFailure) as invalid:
        services.subscription_create(
            organization,
            SubscriptionCreate(external_customer_id=" ", plan_code="basic", external_id="", billing_time="weird"),
        )
    assert invalid.value.details == {
        "external_customer_id": ["value_is_mandatory"],
        "external_id": ["value_is_mandatory"],
        "billing_time": ["value_is_invalid"],
    }
    with pytest.raises(ValidationFailure) as dates:
        create(organization, utc(2024, 1, 1), subscription_at="not a date", ending_at="2023-01-01")
    assert dates.value.details["subscription_at"] == ["invalid_date"]


def test_a_plan_in_another_currency_is_accepted_and_the_default_kept(organization, basic):
    """Multi-currency customers (Lago): the customer's currency is a default, each subscription
    has its plan's."""
    customer = CustomerFactory(organization=organization, external_id="cust-1", currency="EUR")
    subscription = create(organization, utc(2024, 1, 1))
    customer.refresh_from_db()
    assert (subscription.plan.amount_currency, customer.currency) == (basic.amount_currency, "EUR")
    assert basic.amount_currency != "EUR"


def test_external_id_of_another_customer_refused(organization, basic):
    create(organization, utc(2024, 1, 1))
    with pytest.raises(ValidationFailure) as exc:
        create(organization, utc(2024, 1, 2), external_customer_id="cust-2")
    assert exc.value.details == {"external_id": ["value_already_exist"]}


def test_upgrade_is_immediate(organization, basic, premium, endpoint):
    old = create(organization, utc(2024, 1, 1))
    new = create(organization, utc(2024, 1, 15, 10), plan_code="premium")
    old.refresh_from_db()
    assert old.status == "terminated"
    assert old.terminated_at == utc(2024, 1, 15, 10)
    assert old.termination_reason == "upgraded"
    assert new.status == "active"
    assert new.external_id == old.external_id
    assert new.previous_subscription_id == old.pk
    assert new.started_at == utc(2024, 1, 15, 10)
    assert new.trial_ends_at is None
    # Boundaries for invoicing: old 1-14 January, new from 15 January (docs/billing-semantics.md §5.6).
    old_period = selectors.current_period(old, utc(2024, 1, 15, 10))
    new_period = selectors.current_period(new, utc(2024, 1, 15, 10))
    assert old_period.service.end == new_period.service.start == utc(2024, 1, 15)
    assert webhook_types(organization) == ["subscription.started", "subscription.terminated", "subscription.started"]


def test_equal_yearly_amount_is_an_upgrade_and_weekly_compares_on_52(organization, basic):
    SubscriptionPlanFactory(organization=organization, code="weekly", interval="weekly", amount_cents=2308)
    create(organization, utc(2024, 1, 1))
    # 2,308 × 52 = 120,016 ≥ 10,000 × 12 = 120,000: an upgrade.
    new = create(organization, utc(2024, 1, 10), plan_code="weekly")
    assert new.status == "active" and new.plan.code == "weekly"


def test_downgrade_waits_for_the_period_end(organization, basic, starter, endpoint):
    current = create(organization, utc(2024, 1, 1))
    returned = create(organization, utc(2024, 1, 15, 10), plan_code="starter")
    assert returned.pk == current.pk
    assert returned.status == "active"
    pending = Subscription.objects.get(external_id="sub-1", status="pending")
    assert pending.plan.code == "starter"
    assert pending.activation_at == utc(2024, 2, 1)
    assert selectors.downgrade_plan_date(current).isoformat() == "2024-02-01"
    # The daily job applies it at the boundary.
    assert services.subscription_activate_due(pending.pk, at=utc(2024, 2, 1, 0, 5)) is True
    current.refresh_from_db()
    pending.refresh_from_db()
    assert current.status == "terminated"
    assert current.terminated_at == utc(2024, 2, 1)
    assert current.termination_reason == "downgraded"
    assert pending.status == "active"
    assert pending.started_at == utc(2024, 2, 1)
    # The old plan is billed its full January, the new one from 1 February.
    assert selectors.current_period(current, utc(2024, 2, 1)).service.end == utc(2024, 2, 1)
    assert selectors.current_period(pending, utc(2024, 2, 1)).service.start == utc(2024, 2, 1)


def test_downgrade_in_customer_timezone(organization, basic, starter):
    CustomerFactory(organization=organization, external_id="cust-1", currency="USD", timezone="Pacific/Auckland")
    create(organization, utc(2024, 1, 1))
    create(organization, utc(2024, 1, 15), plan_code="starter")
    pending = Subscription.objects.get(external_id="sub-1", status="pending")
    assert pending.activation_at == utc(2024, 1, 31, 11)  # 1 February 00:00 NZDT


def test_scheduled_downgrade_can_be_canceled(organization, basic, starter):
    current = create(organization, utc(2024, 1, 1))
    create(organization, utc(2024, 1, 15), plan_code="starter")
    pending = selectors.subscription_get(organization, "sub-1", status="pending")
    services.subscription_terminate(organization, pending, now=utc(2024, 1, 16))
    pending.refresh_from_db()
    assert pending.status == "canceled"
    assert pending.canceled_at == utc(2024, 1, 16)
    assert selectors.downgrade_plan_date(current) is None
    assert services.subscription_activate_due(pending.pk, at=utc(2024, 2, 2)) is False
    current.refresh_from_db()
    assert current.status == "active"


def test_second_downgrade_replaces_the_first(organization, basic, starter):
    SubscriptionPlanFactory(organization=organization, code="tiny", amount_cents=100)
    create(organization, utc(2024, 1, 1))
    create(organization, utc(2024, 1, 10), plan_code="starter")
    create(organization, utc(2024, 1, 11), plan_code="tiny")
    statuses = dict(Subscription.objects.filter(external_id="sub-1").values_list("plan__code", "status"))
    assert statuses == {"basic": "active", "starter": "canceled", "tiny": "pending"}


def test_immediate_downgrade_option(organization, starter):
    SubscriptionPlanFactory(organization=organization, code="basic", amount_cents=10000, pay_in_advance=True)
    old = create(organization, utc(2024, 1, 1))
    new = create(organization, utc(2024, 1, 15, 10), plan_code="starter", downgrade_timing="immediate")
    old.refresh_from_db()
    assert old.status == "terminated"
    assert old.termination_reason == "downgraded_now"
    assert old.on_termination_credit_note == "credit"  # unused in-advance days are credited
    assert old.replaced_by_plan_change  # credited like an upgrade: the change day goes to the new plan
    assert selectors.current_period(old, utc(2024, 1, 15, 10)).service.end == utc(2024, 1, 15)
    assert new.status == "active" and new.plan.code == "starter"
    assert new.started_at == utc(2024, 1, 15, 10)


def test_apply_scheduled_downgrade_now(organization, basic, starter):
    current = create(organization, utc(2024, 1, 1))
    create(organization, utc(2024, 1, 15), plan_code="starter")
    new = services.subscription_downgrade_apply_now(organization, current, now=utc(2024, 1, 20, 9))
    current.refresh_from_db()
    assert current.status == "terminated" and current.termination_reason == "downgraded_now"
    assert new.status == "active" and new.started_at == utc(2024, 1, 20, 9)
    with pytest.raises(NotAllowedFailure) as exc:
        services.subscription_downgrade_apply_now(organization, new, now=utc(2024, 1, 21))
    assert exc.value.code == "no_pending_downgrade"


def test_same_plan_again_returns_current(organization, basic):
    sub = create(organization, utc(2024, 1, 1))
    again = create(organization, utc(2024, 1, 5), name="Renamed")
    assert again.pk == sub.pk
    assert again.name == "Renamed"
    assert Subscription.objects.count() == 1


def test_second_post_replaces_a_future_subscription(organization, basic, premium):
    sub = create(organization, utc(2024, 1, 1), subscription_at="2024-03-01T00:00:00Z")
    again = create(organization, utc(2024, 1, 2), plan_code="premium", subscription_at="2024-04-01T00:00:00Z")
    assert again.pk == sub.pk
    assert again.plan.code == "premium"
    assert again.activation_at == utc(2024, 4, 1)


def test_terminate_and_refused_transitions(organization, basic, endpoint):
    sub = create(organization, utc(2024, 1, 1))
    services.subscription_terminate(organization, sub, on_termination_invoice="skip", now=utc(2024, 1, 18))
    sub.refresh_from_db()
    assert (sub.status, sub.terminated_at, sub.on_termination_invoice) == ("terminated", utc(2024, 1, 18), "skip")
    assert not sub.replaced_by_plan_change
    for refused in (
        lambda: services.subscription_terminate(organization, sub, now=utc(2024, 1, 19)),
        lambda: services.subscription_cancel(organization, sub, now=utc(2024, 1, 19)),
        lambda: services.subscription_update(
            organization, sub, SubscriptionUpdate.from_validated({"name": "x"}), now=utc(2024, 1, 19)
        ),
    ):
        with pytest.raises(NotAllowedFailure) as exc:
            refused()
        assert exc.value.code == "invalid_status"
    with pytest.raises(ValidationFailure):
        services.subscription_terminate(organization, sub, on_termination_credit_note="burn")


def test_cancel_active_refused_by_state_machine(organization, basic):
    sub = create(organization, utc(2024, 1, 1))
    with pytest.raises(NotAllowedFailure):
        services.subscription_cancel(organization, sub, now=utc(2024, 1, 2))


def test_state_machine_table():
    assert state_machine.target_status("pending", "activate") == "active"
    assert state_machine.target_status("active", "terminate") == "terminated"
    assert state_machine.target_status("pending", "cancel") == "canceled"
    refused = [
        (status, event)
        for status in state_machine.Status
        for event in state_machine.Event
        if not state_machine.allowed(status, event)
    ]
    assert len(refused) == 9
    for status, event in refused:
        with pytest.raises(NotAllowedFailure):
            state_machine.target_status(status, event)
    assert state_machine.events_from("terminated") == []


def test_trial_first_subscription_only(organization, premium, endpoint):
    SubscriptionPlanFactory(organization=organization, code="trial", amount_cents=5000, trial_period=10)
    sub = create(organization, utc(2024, 3, 5, 12, 12), plan_code="trial")
    assert sub.trial_ends_at == utc(2024, 3, 15, 12, 12)
    assert services.subscription_end_trial(sub.pk, at=utc(2024, 3, 15, 12)) is False
    assert services.subscription_end_trial(sub.pk, at=utc(2024, 3, 15, 13)) is True
    assert services.subscription_end_trial(sub.pk, at=utc(2024, 3, 15, 14)) is False
    sub.refresh_from_db()
    assert sub.trial_ended_at == utc(2024, 3, 15, 12, 12)
    assert "subscription.trial_ended" in webhook_types(organization)
    upgraded = create(organization, utc(2024, 3, 20), plan_code="premium")
    assert upgraded.trial_ends_at is None


def test_ending_at_terminates(organization, basic, endpoint):
    sub = create(organization, utc(2024, 1, 1), ending_at="2024-06-30T12:00:00Z")
    assert services.subscription_reach_ending(sub.pk, at=utc(2024, 6, 30)) is False
    assert services.subscription_reach_ending(sub.pk, at=utc(2024, 6, 30, 13)) is True
    sub.refresh_from_db()
    assert (sub.status, sub.terminated_at, sub.termination_reason) == ("terminated", utc(2024, 6, 30, 12), "ending_at")


def test_termination_alerts_once_per_threshold(organization, basic, endpoint):
    sub = create(organization, utc(2024, 1, 1), ending_at="2024-06-30T00:00:00Z")
    assert services.subscription_send_termination_alert(sub.pk, at=utc(2024, 5, 1)) is None
    assert services.subscription_send_termination_alert(sub.pk, at=utc(2024, 5, 20)) == 45
    assert services.subscription_send_termination_alert(sub.pk, at=utc(2024, 5, 21)) is None
    assert services.subscription_send_termination_alert(sub.pk, at=utc(2024, 6, 16)) == 15
    assert webhook_types(organization).count("subscription.termination_alert") == 2


def test_update_pending_dates_overrides_and_options(organization, basic):
    charge = charge_for(basic)
    sub = create(organization, utc(2024, 1, 1), subscription_at="2024-03-01T00:00:00Z")
    updated = services.subscription_update(
        organization,
        sub,
        SubscriptionUpdate.from_validated(
            {
                "name": "Renamed",
                "subscription_at": "2024-04-01T00:00:00Z",
                "ending_at": "2025-01-01T00:00:00Z",
                "on_termination_credit_note": "refund",
                "plan_overrides": {
                    "amount_cents": 7000,
                    "charges": [{"id": str(charge.pk), "properties": {"amount": "0.01"}}],
                },
            }
        ),
        now=utc(2024, 1, 2),
    )
    assert updated.name == "Renamed"
    assert updated.activation_at == utc(2024, 4, 1)
    assert updated.on_termination_credit_note == "refund"
    assert updated.plan.parent_id == basic.pk
    assert updated.plan.code == "basic"
    assert updated.plan.amount_cents == 7000
    child_charge = updated.plan.charges.get()
    assert child_charge.parent_id == charge.pk
    assert child_charge.properties == {"amount": "0.01"}
    basic.refresh_from_db()
    assert basic.amount_cents == 10000  # the parent is untouched
    # A second override updates the same child plan.
    again = services.subscription_update(
        organization,
        updated,
        SubscriptionUpdate.from_validated({"plan_overrides": {"amount_cents": 6000}}),
        now=utc(2024, 1, 3),
    )
    assert again.plan_id == updated.plan_id and again.plan.amount_cents == 6000
    # Moving subscription_at into the past starts it.
    started = services.subscription_update(
        organization,
        again,
        SubscriptionUpdate.from_validated({"subscription_at": "2024-01-02T00:00:00Z"}),
        now=utc(2024, 1, 5),
    )
    assert started.status == "active" and started.started_at == utc(2024, 1, 2)


def test_plan_overrides_on_create_and_unknown_charge(organization, basic):
    sub = create(organization, utc(2024, 1, 1), plan_overrides={"amount_cents": 1234, "name": "Custom"})
    assert sub.plan.parent_id == basic.pk and sub.plan.amount_cents == 1234 and sub.plan.name == "Custom"
    with pytest.raises(NotFoundFailure) as exc:
        create(organization, utc(2024, 1, 1), external_id="sub-2", plan_overrides={"charges": [{"id": "nope"}]})
    assert exc.value.code == "charge_not_found"
    with pytest.raises(ValidationFailure) as invalid:
        create(organization, utc(2024, 1, 1), external_id="sub-3", plan_overrides={"amount_currency": "EUR"})
    assert invalid.value.details == {"plan_overrides.amount_currency": ["currencies_does_not_match"]}


def test_ending_at_must_be_in_the_future(organization, basic):
    sub = create(organization, utc(2024, 1, 1))
    with pytest.raises(ValidationFailure) as exc:
        services.subscription_update(
            organization,
            sub,
            SubscriptionUpdate.from_validated({"ending_at": "2023-12-01T00:00:00Z"}),
            now=utc(2024, 1, 2),
        )
    assert exc.value.details == {"ending_at": ["invalid_date"]}


def test_customer_deletion_terminates_its_subscriptions(
    organization, basic, starter, django_capture_on_commit_callbacks
):
    sub = create(organization, utc(2024, 1, 1))
    create(organization, utc(2024, 1, 2), plan_code="starter")  # a scheduled downgrade
    future = create(organization, utc(2024, 1, 2), external_id="sub-2", subscription_at="2099-01-01T00:00:00Z")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        customer_delete(organization, "cust-1")
    assert callbacks  # the receiver only enqueues, on commit
    sub.refresh_from_db()
    future.refresh_from_db()
    assert sub.status == "terminated" and sub.termination_reason == "customer_deleted"
    assert future.status == "canceled"
    assert not Subscription.objects.filter(status__in=["active", "pending"]).exists()


def test_tenant_isolation(organization, other_tenant, basic):
    sub = create(organization, utc(2024, 1, 1))
    with pytest.raises(NotFoundFailure):
        selectors.subscription_get(other_tenant.organization, "sub-1")
    with pytest.raises(NotFoundFailure):
        services.subscription_terminate(other_tenant.organization, sub)


def test_metering_lookup(organization, other_tenant, basic, premium):
    from subscriptions.selectors import subscription_refs as lookup_subscriptions

    old = create(organization, utc(2024, 1, 1))
    new = create(organization, utc(2024, 1, 10), plan_code="premium")
    refs = lookup_subscriptions(organization, ["sub-1", "unknown"])
    assert set(refs) == {"sub-1"}
    assert refs["sub-1"].id == new.pk and refs["sub-1"].terminated_at is None
    services.subscription_terminate(organization, new, now=utc(2024, 2, 1))
    assert lookup_subscriptions(organization, ["sub-1"])["sub-1"].id == new.pk
    assert lookup_subscriptions(other_tenant.organization, ["sub-1"]) == {}
    assert old.pk != new.pk


def test_signals_for_invoicing(organization, basic, premium, starter):
    from subscriptions import signals

    received: list[tuple[str, str, str]] = []

    def receiver(name):
        def handle(sender, subscription, organization, reason, **kwargs):
            received.append((name, subscription.plan.code, reason))

        return handle

    handlers = {
        name: receiver(name) for name in ("started", "terminated", "canceled", "trial_ended")
    }  # strong references: signals hold weak ones
    for name, handler in handlers.items():
        getattr(signals, f"subscription_{name}").connect(handler)
    try:
        sub = create(organization, utc(2024, 1, 1))
        create(organization, utc(2024, 1, 10), plan_code="premium")
        create(organization, utc(2024, 1, 11), plan_code="starter")
        pending = selectors.subscription_get(organization, "sub-1", status="pending")
        services.subscription_activate_due(pending.pk, at=utc(2024, 2, 1))
        trial_plan = SubscriptionPlanFactory(organization=organization, code="trial", trial_period=1)
        trial = create(organization, utc(2024, 1, 1), external_id="sub-t", plan_code=trial_plan.code)
        services.subscription_end_trial(trial.pk, at=utc(2024, 1, 3))
        future = create(organization, utc(2024, 1, 1), external_id="sub-f", subscription_at="2030-01-01T00:00:00Z")
        services.subscription_terminate(organization, future, now=utc(2024, 1, 2))
    finally:
        for name, handler in handlers.items():
            getattr(signals, f"subscription_{name}").disconnect(handler)
    assert received == [
        ("started", "basic", ""),
        ("terminated", "basic", "upgraded"),
        ("started", "premium", "upgraded"),
        ("terminated", "premium", "downgraded"),
        ("started", "starter", "downgrade"),
        ("started", "trial", ""),
        ("trial_ended", "trial", ""),
        ("canceled", "basic", "manual"),
    ]
    assert sub.pk


def test_periods_from_a_real_subscription_use_the_customer_timezone(organization):
    from fractions import Fraction

    from subscriptions import periods

    SubscriptionPlanFactory(organization=organization, code="advance", amount_cents=5000, pay_in_advance=True)
    CustomerFactory(organization=organization, external_id="la", currency="USD", timezone="America/Los_Angeles")
    sub = services.subscription_create(
        organization,
        SubscriptionCreate.from_validated(
            {
                "external_customer_id": "la",
                "plan_code": "advance",
                "external_id": "la-1",
                "subscription_at": "2023-02-08",
            }
        ),
        now=utc(2023, 2, 8, 12),
    )
    schedule = selectors.schedule_for(sub)
    assert schedule.tz_name == "America/Los_Angeles"
    period = periods.period_at(schedule, utc(2023, 2, 8, 12))
    # docs/billing-semantics.md §5.2: 22/28 is 4,715 with tax.
    assert periods.base_fee_fraction(schedule, period) == Fraction(22, 28)
    assert selectors.next_billing_at(sub, utc(2023, 2, 8, 12)) == utc(2023, 3, 1, 8)


def test_in_advance_trial_is_billed_from_the_trial_end(organization):
    from fractions import Fraction

    from subscriptions import periods

    SubscriptionPlanFactory(
        organization=organization, code="trial", amount_cents=5_000_000, pay_in_advance=True, trial_period=10
    )
    sub = services.subscription_create(
        organization,
        SubscriptionCreate.from_validated(
            {
                "external_customer_id": "t",
                "plan_code": "trial",
                "external_id": "t-1",
                "subscription_at": "2024-03-05T12:12:00Z",
            }
        ),
        now=utc(2024, 3, 5, 12, 12),
    )
    services.subscription_end_trial(sub.pk, at=utc(2024, 3, 15, 13))
    sub.refresh_from_db()
    schedule = selectors.schedule_for(sub)
    period = periods.period_at(schedule, sub.trial_ended_at)
    assert periods.base_fee_fraction(schedule, period) == Fraction(17, 31)  # 2,741,935 (§5.5)


def test_webhook_payloads_name_both_plans(organization, basic, premium, endpoint):
    import json

    create(organization, utc(2024, 1, 1))
    create(organization, utc(2024, 1, 15), plan_code="premium")
    bodies = [
        json.loads(body)
        for body in WebhookDelivery.objects.filter(organization=organization, object_type="subscription")
        .order_by("created_at")
        .values_list("body", flat=True)
    ]
    terminated = next(b for b in bodies if b["webhook_type"] == "subscription.terminated")["subscription"]
    assert terminated["status"] == "terminated"
    assert terminated["plan_code"] == "basic"
    assert terminated["next_plan_code"] == "premium"
    started = [b["subscription"] for b in bodies if b["webhook_type"] == "subscription.started"]
    assert started[-1]["plan_code"] == "premium"
    assert started[-1]["previous_plan_code"] == "basic"
    assert bodies[0]["organization_id"] == str(organization.pk)


def test_pending_start_cannot_move_past_its_ending(organization, basic):
    sub = create(
        organization, utc(2024, 1, 1), subscription_at="2024-03-01T00:00:00Z", ending_at="2024-06-01T00:00:00Z"
    )
    with pytest.raises(ValidationFailure) as exc:
        services.subscription_update(
            organization,
            sub,
            SubscriptionUpdate.from_validated({"subscription_at": "2024-07-01T00:00:00Z"}),
            now=utc(2024, 1, 2),
        )
    assert exc.value.details == {"subscription_at": ["invalid_date"]}


def test_override_charge_properties_are_validated(organization, basic):
    charge = charge_for(basic)
    with pytest.raises(ValidationFailure) as on_create:
        create(
            organization,
            utc(2024, 1, 1),
            plan_overrides={"charges": [{"id": str(charge.pk), "properties": {"amount": "x"}}]},
        )
    assert "properties" in " ".join(on_create.value.details)
    sub = create(organization, utc(2024, 1, 1), plan_overrides={"amount_cents": 9000})
    with pytest.raises(ValidationFailure) as on_update:
        services.subscription_update(
            organization,
            sub,
            SubscriptionUpdate.from_validated(
                {"plan_overrides": {"charges": [{"id": str(charge.pk), "properties": {"amount": "x"}}]}}
            ),
        )
    assert "plan_overrides.charges.properties" in on_update.value.details
    updated = services.subscription_update(
        organization,
        sub,
        SubscriptionUpdate.from_validated(
            {"plan_overrides": {"charges": [{"id": str(charge.pk), "properties": {"amount": "0.02"}}]}}
        ),
    )
    assert updated.plan.charges.get().properties["amount"] == "0.02"
    assert updated.plan.amount_cents == 9000  # earlier overrides stay


def test_termination_alert_days_come_from_settings(organization, basic, endpoint, settings):
    settings.SUBSCRIPTION_TERMINATION_ALERT_DAYS = [30, 7, 1]
    sub = create(organization, utc(2024, 1, 1), ending_at="2024-06-30T00:00:00Z")
    assert services.subscription_send_termination_alert(sub.pk, at=utc(2024, 5, 20)) is None  # 41 days: none
    assert services.subscription_send_termination_alert(sub.pk, at=utc(2024, 6, 1)) == 30
    assert services.subscription_send_termination_alert(sub.pk, at=utc(2024, 6, 29, 12)) == 1  # 7 skipped past
    assert services.subscription_send_termination_alert(sub.pk, at=utc(2024, 6, 29, 13)) is None


def test_repeating_a_future_create_is_a_safe_retry(organization, basic, endpoint):
    body = {"subscription_at": "2024-03-01T00:00:00Z", "billing_time": "anniversary", "name": "N"}
    sub = create(organization, utc(2024, 1, 1), **body)
    again = create(organization, utc(2024, 1, 2), **body)
    assert again.pk == sub.pk
    assert SubscriptionTransition.objects.filter(subscription=sub, event="update").count() == 0
    # Fields not sent are kept: no date means no change of date (not "now").
    kept = create(organization, utc(2024, 1, 3), name="Renamed")
    assert (kept.status, kept.activation_at, kept.billing_time, kept.name) == (
        "pending",
        utc(2024, 3, 1),
        "anniversary",
        "Renamed",
    )
    assert webhook_types(organization) == ["subscription.updated"]


def test_repeating_a_downgrade_is_a_safe_retry(organization, basic, starter):
    current = create(organization, utc(2024, 1, 1))
    create(organization, utc(2024, 1, 10), plan_code="starter")
    again = create(organization, utc(2024, 1, 11), plan_code="starter")
    assert again.pk == current.pk
    assert Subscription.objects.filter(external_id="sub-1").count() == 2
    assert not Subscription.objects.filter(status="canceled").exists()
