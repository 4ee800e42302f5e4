"""Recurring metrics carry their value across plan changes (Lago's `Subscription#initial_started_at`).

A plan change creates a new subscription row with the same `external_id`; Lago's recurring
aggregation reads every event of that external id (no lower bound), and its subscription chain
starts at `initial_started_at` (the earliest `started_at` of the customer's subscriptions with
that id). bxb bounds usage by that chain start (`subscriptions.selectors.ChainStarts`),
for recurring metrics; metered windows are the billing period of the current row.

Numbers of the upgrade come from Lago's `spec/scenarios/charge_models/prorated_graduated_spec.rb`
("when upgrade is performed"): the new plan bills the 95 carried seats for 14/31 → 26,742.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoicing.billing.run import customer_bill, customers_bill
from invoicing.models import Invoice
from invoicing.selectors import current_usage
from subscriptions.inputs import SubscriptionCreate
from subscriptions.models import Subscription, SubscriptionStatus, TerminationReason
from subscriptions.selectors import ChainStarts
from subscriptions.services import subscription_create, subscription_terminate
from subscriptions.services.lifecycle import subscription_activate_due
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db

GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 5, "per_unit_amount": "10", "flat_amount": "100"},
        {"from_value": 6, "to_value": 15, "per_unit_amount": "5", "flat_amount": "50"},
        {"from_value": 16, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"},
    ]
}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _seats_metric(organization, *, recurring=True, code="seats"):
    return make_metric(organization, code, "sum_agg", field_name="amount", recurring=recurring)


def _plan(organization, metric, *, amount_cents, unit="10", model="standard", properties=None, prorated=False):
    plan = make_plan(organization, amount_cents=amount_cents)
    make_charge(
        plan, metric, model=model, properties=properties or {"amount": unit}, prorated=prorated, code=metric.code
    )
    return plan


def _change_plan(organization, customer, external_id, plan, when, **extra):
    data = {"external_customer_id": customer.external_id, "external_id": external_id, "plan_code": plan.code}
    return subscription_create(organization, SubscriptionCreate.from_validated({**data, **extra}), now=when)


def _usage(organization, customer, external_id, when):
    data = current_usage(
        organization, external_customer_id=customer.external_id, external_subscription_id=external_id, at=when
    )
    [charge] = data["charges_usage"]
    return data["amount_cents"], charge["units"]


def _charge_cents(invoice: Invoice) -> int:
    return sum(invoice.fees.filter(fee_type="charge").values_list("amount_cents", flat=True))


def _invoices_of(sub: Subscription) -> list[Invoice]:
    return list(Invoice.objects.filter(invoice_subscriptions__subscription=sub).order_by("created_at"))


# --- Lago's upgrade scenario -------------------------------------------------------------------


def test_lago_prorated_graduated_upgrade_bills_the_carried_seats_on_the_new_plan(organization):
    """prorated_graduated_spec "when upgrade is performed": September's seats (75) and 20 more on
    17 October; upgrade on 18 October 05:20 → the closing invoice 27,323; on 1 November the new
    plan bills the 95 carried seats for 14/31 (26,742) + its base fee 100 × 14/31 (45); current
    usage on 5 November: the 95 seats in full (41,000)."""
    customer = make_customer(organization, external_id="up_cus")
    seats = _seats_metric(organization)
    plan = _plan(organization, seats, amount_cents=0, model="graduated", properties=GRADUATED, prorated=True)
    plan_new = _plan(organization, seats, amount_cents=100, model="graduated", properties=GRADUATED, prorated=True)
    sub = subscribe(customer, plan, at(2023, 9, 1), external_id="up_sub")
    for day, amount in [(10, 2), (16, 5), (20, -6), (25, 10), (26, 4), (30, 60)]:
        add_events(sub, "seats", [at(2023, 9, day)], amount=amount)
    [september] = customer_bill(customer.id, at=at(2023, 10, 1, 1))
    assert september.total_amount_cents == 18_700
    add_events(sub, "seats", [at(2023, 10, 17)], amount=20)

    new = _change_plan(organization, customer, "up_sub", plan_new, at(2023, 10, 18, 5, 20))
    sub.refresh_from_db()
    assert (sub.status, sub.termination_reason) == (SubscriptionStatus.TERMINATED, TerminationReason.UPGRADED)
    assert new.previous_subscription_id == sub.id and new.started_at == at(2023, 10, 18, 5, 20)
    assert ChainStarts().of(Subscription.objects.get(pk=new.pk)) == at(2023, 9, 1)

    customer_bill(customer.id, at=at(2023, 10, 18, 6))
    closing = _invoices_of(sub)[-1]
    assert closing.total_amount_cents == 27_323

    [november] = customer_bill(customer.id, at=at(2023, 11, 1, 1))
    assert [s.id for s in november.invoice_subscriptions.all()] and _invoices_of(new) == [november]
    assert _charge_cents(november) == 26_742
    assert november.total_amount_cents == 26_742 + 45
    assert _usage(organization, customer, "up_sub", at(2023, 11, 5)) == (41_000, "95.0")


# --- a plain recurring seat metric -------------------------------------------------------------


def test_seats_before_an_upgrade_are_billed_on_the_new_plan_and_in_current_usage(organization):
    customer = make_customer(organization, external_id="plain_cus")
    seats = _seats_metric(organization)
    basic = _plan(organization, seats, amount_cents=0, unit="10")
    pro = _plan(organization, seats, amount_cents=5000, unit="5")
    sub = subscribe(customer, basic, at(2024, 1, 1), external_id="plain_sub")
    add_events(sub, "seats", [at(2024, 1, 5)], amount=10)

    new = _change_plan(organization, customer, "plain_sub", pro, at(2024, 1, 15, 12))
    assert new.previous_subscription_id == sub.id
    # Current usage of the new plan, before and after one more seat: the ten carried seats count.
    assert _usage(organization, customer, "plain_sub", at(2024, 1, 20)) == (5_000, "10.0")
    add_events(sub, "seats", [at(2024, 1, 22)], amount=1)
    assert _usage(organization, customer, "plain_sub", at(2024, 1, 23)) == (5_500, "11.0")

    customer_bill(customer.id, at=at(2024, 1, 15, 13))
    [closing] = _invoices_of(sub)
    assert _charge_cents(closing) == 10_000  # the old plan: 10 seats at $10, in full (not prorated)
    [february] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert _invoices_of(Subscription.objects.get(pk=new.pk)) == [february]
    assert _charge_cents(february) == 5_500  # 11 seats at $5 on the new plan (0 before the fix)


def test_seats_before_a_downgrade_at_period_end_are_billed_on_the_new_plan(organization):
    customer = make_customer(organization, external_id="down_cus")
    seats = _seats_metric(organization)
    pro = _plan(organization, seats, amount_cents=5000, unit="10")
    basic = _plan(organization, seats, amount_cents=1000, unit="3")
    sub = subscribe(customer, pro, at(2024, 1, 1), external_id="down_sub")
    add_events(sub, "seats", [at(2024, 1, 5)], amount=10)

    _change_plan(organization, customer, "down_sub", basic, at(2024, 1, 15))
    pending = Subscription.objects.get(external_id="down_sub", status=SubscriptionStatus.PENDING)
    assert pending.activation_at == at(2024, 2, 1)
    assert subscription_activate_due(pending.id, at=at(2024, 2, 1))
    sub.refresh_from_db()
    assert sub.termination_reason == TerminationReason.DOWNGRADED

    customer_bill(customer.id, at=at(2024, 2, 1, 1))
    [january] = _invoices_of(sub)
    assert _charge_cents(january) == 10_000
    assert _usage(organization, customer, "down_sub", at(2024, 2, 10)) == (3_000, "10.0")
    [february] = customer_bill(customer.id, at=at(2024, 3, 1, 1))
    assert _invoices_of(Subscription.objects.get(pk=pending.pk)) == [february]
    assert _charge_cents(february) == 3_000


def test_the_batch_path_bills_the_carried_seats_with_one_chain_query(organization):
    """Billing in batches reads every chain start of the batch in one query, and gives the invoice
    of the per-customer path."""
    seats = _seats_metric(organization)
    basic = _plan(organization, seats, amount_cents=0, unit="10")
    pro = _plan(organization, seats, amount_cents=5000, unit="5")
    customers = []
    for n in range(3):
        customer = make_customer(organization, external_id=f"batch_cus_{n}")
        sub = subscribe(customer, basic, at(2024, 1, 1), external_id=f"batch_sub_{n}")
        add_events(sub, "seats", [at(2024, 1, 5)], amount=10 + n)
        _change_plan(organization, customer, f"batch_sub_{n}", pro, at(2024, 1, 15, 12))
        customer_bill(customer.id, at=at(2024, 1, 15, 13))
        customers.append(customer)
    with CaptureQueriesContext(connection) as captured:
        outcome = customers_bill([c.id for c in customers], at=at(2024, 2, 1, 1))
    assert not outcome.failures
    assert [_charge_cents(outcome.invoices[c.id][0]) for c in customers] == [5_000, 5_500, 6_000]
    chain_reads = [
        q["sql"] for q in captured.captured_queries if "MIN(" in q["sql"] and "subscriptions_subscription" in q["sql"]
    ]
    assert len(chain_reads) == 1


def test_prime_reads_every_chain_start_in_one_query(organization, django_assert_num_queries):
    customer = make_customer(organization)
    seats = _seats_metric(organization)
    basic = _plan(organization, seats, amount_cents=0)
    pro = _plan(organization, seats, amount_cents=5000)
    first = subscribe(customer, basic, at(2024, 1, 1), external_id="chain")
    second = _change_plan(organization, customer, "chain", pro, at(2024, 1, 10))
    alone = subscribe(customer, basic, at(2024, 1, 20), external_id="alone")
    subs = [Subscription.objects.get(pk=second.pk), Subscription.objects.get(pk=alone.pk)]
    starts = ChainStarts()
    with django_assert_num_queries(1):
        starts.read(subs)
        assert [starts.of(s) for s in subs] == [first.started_at, at(2024, 1, 20)]
    assert not any("_initial_started_at" in vars(s) for s in subs)  # kept by the caller, not on the rows


# --- what does not carry -----------------------------------------------------------------------


def test_a_new_subscription_with_another_external_id_does_not_see_the_old_events(organization):
    customer = make_customer(organization, external_id="other_cus")
    seats = _seats_metric(organization)
    plan = _plan(organization, seats, amount_cents=0, unit="10")
    old = subscribe(customer, plan, at(2024, 1, 1), external_id="seat_a")
    add_events(old, "seats", [at(2024, 1, 5)], amount=10)
    subscribe(customer, plan, at(2024, 1, 10), external_id="seat_b")
    assert _usage(organization, customer, "seat_b", at(2024, 1, 20)) == (0, "0.0")
    assert _usage(organization, customer, "seat_a", at(2024, 1, 20)) == (10_000, "10.0")


def test_terminated_then_created_again_with_the_same_external_id_carries_the_seats(organization):
    """Not a plan change: Lago's `initial_started_at` takes every subscription of the customer with
    that external id (terminated ones too), and its recurring store reads every event of the id:
    the ten seats carry into the new subscription."""
    customer = make_customer(organization, external_id="again_cus")
    seats = _seats_metric(organization)
    plan = _plan(organization, seats, amount_cents=0, unit="10")
    old = subscribe(customer, plan, at(2024, 1, 1), external_id="again_sub")
    add_events(old, "seats", [at(2024, 1, 5)], amount=10)
    subscription_terminate(organization, old, now=at(2024, 1, 20))
    again = _change_plan(organization, customer, "again_sub", plan, at(2024, 2, 10))
    assert again.id != old.id and again.previous_subscription_id is None
    assert ChainStarts().of(Subscription.objects.get(pk=again.pk)) == at(2024, 1, 1)
    assert _usage(organization, customer, "again_sub", at(2024, 2, 15)) == (10_000, "10.0")


def test_another_customer_reusing_the_external_id_starts_from_its_own_subscription(organization):
    """The chain is the customer's (`initial_started_at` looks at that customer's subscriptions): a
    different customer later given the same external id does not inherit the seats."""
    seats = _seats_metric(organization)
    plan = _plan(organization, seats, amount_cents=0, unit="10")
    first = make_customer(organization, external_id="first_cus")
    old = subscribe(first, plan, at(2024, 1, 1), external_id="shared_sub")
    add_events(old, "seats", [at(2024, 1, 5)], amount=10)
    subscription_terminate(organization, old, now=at(2024, 1, 20))
    second = make_customer(organization, external_id="second_cus")
    subscribe(second, plan, at(2024, 2, 10), external_id="shared_sub")
    assert _usage(organization, second, "shared_sub", at(2024, 2, 15)) == (0, "0.0")


def test_metered_metrics_are_unchanged_by_a_plan_change(organization):
    """A metered sum bills its billing period: calls before the upgrade stay on the old plan's
    closing invoice, the new plan bills only its own."""
    customer = make_customer(organization, external_id="meter_cus")
    calls = _seats_metric(organization, recurring=False, code="calls")
    basic = _plan(organization, calls, amount_cents=0, unit="1")
    pro = _plan(organization, calls, amount_cents=5000, unit="1")
    sub = subscribe(customer, basic, at(2024, 1, 1), external_id="meter_sub")
    add_events(sub, "calls", [at(2024, 1, 5)], amount=7)
    new = _change_plan(organization, customer, "meter_sub", pro, at(2024, 1, 15, 12))
    add_events(sub, "calls", [at(2024, 1, 20)], amount=3)
    assert _usage(organization, customer, "meter_sub", at(2024, 1, 21)) == (300, "3.0")
    customer_bill(customer.id, at=at(2024, 1, 15, 13))
    [closing] = _invoices_of(sub)
    assert _charge_cents(closing) == 700
    [february] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert _invoices_of(Subscription.objects.get(pk=new.pk)) == [february]
    assert _charge_cents(february) == 300


# --- fee estimates (metering reads the chain start through SubscriptionRef) --------------------

IN_ADVANCE_GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 5, "per_unit_amount": "10", "flat_amount": "0"},
        {"from_value": 6, "to_value": None, "per_unit_amount": "5", "flat_amount": "0"},
    ]
}


def test_subscription_refs_and_fee_estimates_see_the_carried_seats(organization):
    """`POST /events/estimate_fees` after an upgrade: the eleventh seat is priced in the second tier
    ($5) because the ten seats bought on the old plan carry (without them: $10)."""
    from metering.estimates import events_estimate_fees
    from subscriptions.selectors import subscription_refs as lookup_subscriptions

    customer = make_customer(organization, external_id="est_cus")
    seats = _seats_metric(organization)
    plans = []
    for amount_cents in (0, 5000):
        plan = make_plan(organization, amount_cents=amount_cents)
        make_charge(plan, seats, model="graduated", properties=IN_ADVANCE_GRADUATED, pay_in_advance=True)
        plans.append(plan)
    sub = subscribe(customer, plans[0], at(2024, 1, 1), external_id="est_sub")
    add_events(sub, "seats", [at(2024, 1, 5)], amount=10)
    new = _change_plan(organization, customer, "est_sub", plans[1], at(2024, 1, 15, 12))

    ref = lookup_subscriptions(organization, ["est_sub"])["est_sub"]
    assert (ref.id, ref.started_at, ref.initial_started_at) == (new.id, new.started_at, at(2024, 1, 1))
    payload = {
        "transaction_id": "estimate_1",
        "code": "seats",
        "external_subscription_id": "est_sub",
        "timestamp": str(int(at(2024, 1, 20).timestamp())),
        "properties": {"amount": "1"},
    }
    [estimate] = events_estimate_fees(organization, payload)
    assert estimate.amount_cents == 500


def test_usage_monitoring_period_usage_sees_the_carried_seats(organization):
    """Alerts and progressive billing read `usage_monitoring.selectors.period_usage`: the same rule."""
    from usage_monitoring.selectors import period_usage

    customer = make_customer(organization, external_id="um_cus")
    seats = _seats_metric(organization)
    basic = _plan(organization, seats, amount_cents=0, unit="10")
    pro = _plan(organization, seats, amount_cents=5000, unit="5", prorated=True)
    sub = subscribe(customer, basic, at(2024, 1, 1), external_id="um_sub")
    add_events(sub, "seats", [at(2024, 1, 5)], amount=10)
    new = _change_plan(organization, customer, "um_sub", pro, at(2024, 1, 15, 12))
    usage = period_usage(Subscription.objects.select_related("plan", "customer").get(pk=new.pk), at(2024, 1, 20))
    # 10 seats × $5, prorated over the 17 days 15-31 January of 31: 5.48388 units → 2,742 cents.
    assert usage.metric_units(seats.id) == Decimal("5.48388")  # ceil(10 × 17/31, 5)
    assert usage.metric_amount_cents(seats.id) == 2_742
