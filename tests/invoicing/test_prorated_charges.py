"""Prorated charges (docs/billing-semantics.md §5.4): aggregation, invoices and current usage, to the cent.

Numbers come from Lago's docs (a $10 seat used 22 days) and from api
`spec/scenarios/charge_models/prorated_graduated_spec.rb` (sum metric, three graduated tiers).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from invoicing.billing.run import customer_bill
from invoicing.models import Fee
from invoicing.selectors import current_usage
from metering.computations import Row
from metering.prorated import ProrationDays, prorated_sum, prorated_unique_count
from subscriptions.services import subscription_terminate
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db

D = Decimal
GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 5, "per_unit_amount": "10", "flat_amount": "100"},
        {"from_value": 6, "to_value": 15, "per_unit_amount": "5", "flat_amount": "50"},
        {"from_value": 16, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"},
    ]
}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the pure arithmetic ---------------------------------------------------------------------------


def test_days_of_a_window_and_its_period():
    days = ProrationDays.of(at(2023, 7, 1), at(2023, 8, 1), period_days=31, tz_name="UTC")
    assert (days.first_day.isoformat(), days.last_day.isoformat(), days.window_days) == ("2023-07-01", "2023-07-31", 31)
    paris = ProrationDays.of(at(2023, 6, 30, 22), at(2023, 7, 31, 22), period_days=31, tz_name="Europe/Paris")
    assert paris.first_day.isoformat() == "2023-07-01" and paris.last_day.isoformat() == "2023-07-31"


@pytest.mark.parametrize(
    ("month", "day", "period_days", "units"),
    [
        (7, 10, 31, D("0.70968")),  # 22/31 = 0.709677… rounded up at 5 places
        (6, 9, 30, D("0.73334")),  # 22/30: the docs' "$7.33" is a 30-day month
    ],
)
def test_a_seat_used_22_days(month, day, period_days, units):
    start, end = at(2023, month, 1), at(2023, month + 1, 1)
    days = ProrationDays.of(start, end, period_days=period_days, tz_name="UTC")
    values = prorated_sum([], [Row(timestamp=at(2023, month, day, 9), value=D(1))], days, tz_name="UTC")
    assert values.units == units
    assert values.full_units == 1
    assert values.event_values == (D(1),)


def test_carried_value_counts_the_window_share_and_removal_stops_from_its_day():
    days = ProrationDays.of(at(2023, 12, 1), at(2023, 12, 7, 10), period_days=31, tz_name="UTC")
    history = [Row(timestamp=at(2023, 10, 5), value=D(7)), Row(timestamp=at(2023, 11, 5), value=D(-1))]
    values = prorated_sum(history, [Row(timestamp=at(2023, 12, 7, 9), value=D(1))], days, tz_name="UTC")
    # 6 carried × 7/31 + 1 × 1/31 = 43/31
    assert values.units == D("1.38710")
    assert values.full_units == 7
    assert values.event_values == (D(6), D(1))


def test_unique_count_counts_the_days_each_value_was_present():
    days = ProrationDays.of(at(2023, 7, 1), at(2023, 8, 1), period_days=31, tz_name="UTC")

    def row(day, value, op="add"):
        return Row(timestamp=at(2023, 7, day, 12), properties={"user": value, "operation_type": op})

    history = [Row(timestamp=at(2023, 6, 3), properties={"user": "old"})]
    rows = [row(10, "a"), row(20, "a", "remove"), row(15, "old", "remove"), row(25, "b"), row(26, "b")]
    values = prorated_unique_count(history, rows, days, field_name="user", tz_name="UTC")
    # a: 10..20 = 11 days; old: 1..15 = 15 days; b: 25..31 = 7 days → 33/31
    assert values.units == D("1.06452")
    assert values.full_units == 1  # only b is left
    # one element per presence (Lago): the carried value, then each add; a removal ends a presence
    assert values.event_values == (D(1), D(1), D(1))
    assert [v * 31 for v in values.event_prorated_values] == [D(15), D(11), D(7)]


# --- invoices --------------------------------------------------------------------------------------


def _seat_plan(organization, *, model="standard", properties=None, prorated=True, aggregation="sum_agg"):
    plan = make_plan(organization, amount_cents=0)
    field = "amount" if aggregation == "sum_agg" else "user"
    metric = make_metric(organization, "seats", aggregation, field_name=field, recurring=True)
    charge = make_charge(
        plan, metric, model=model, properties=properties or {"amount": "10"}, prorated=prorated, code="seats"
    )
    return plan, charge


def _charge_fee(invoice) -> Fee:
    return invoice.fees.get(fee_type="charge")


@pytest.mark.parametrize(("prorated", "cents"), [(True, 710), (False, 1000)])
def test_seat_added_on_10_july(organization, prorated, cents):
    """docs prorated-vs-full: a $10 seat added on 10 July → 22/31 (Lago's exact rule: $7.10), unprorated $10."""
    customer = make_customer(organization)
    plan, _ = _seat_plan(organization, prorated=prorated)
    sub = subscribe(customer, plan, at(2023, 7, 1))
    add_events(sub, "seats", [at(2023, 7, 10, 8)], amount=1)
    [invoice] = customer_bill(customer.id, at=at(2023, 8, 1, 1))
    fee = _charge_fee(invoice)
    assert fee.amount_cents == cents
    assert invoice.total_amount_cents == cents
    if prorated:
        assert fee.units == D("0.70968")
        assert fee.amount_details["full_units"] == "1"
        assert fee.precise_amount_cents == D("709.68000")


def test_five_seats_in_a_30_day_month_give_the_docs_7_33_per_seat(organization):
    customer = make_customer(organization)
    plan, _ = _seat_plan(organization)
    sub = subscribe(customer, plan, at(2023, 6, 1))
    add_events(sub, "seats", [at(2023, 6, 9, 8)], amount=5)
    [invoice] = customer_bill(customer.id, at=at(2023, 7, 1, 1))
    assert _charge_fee(invoice).amount_cents == 3667  # 5 × 22/30 = 3.66667 (ceil) × $10


def test_next_period_bills_carried_seats_in_full(organization):
    customer = make_customer(organization)
    plan, _ = _seat_plan(organization)
    sub = subscribe(customer, plan, at(2023, 7, 1))
    add_events(sub, "seats", [at(2023, 7, 10, 8)], amount=1)
    customer_bill(customer.id, at=at(2023, 8, 1, 1))
    [august] = customer_bill(customer.id, at=at(2023, 9, 1, 1))
    assert _charge_fee(august).amount_cents == 1000


def test_lago_prorated_graduated_scenario(organization):
    """prorated_graduated_spec "three ranges and one overflow case": usage after each event, the
    invoice of 1 October (18,700), then October's usage (37,000, and 38,935 after 20 more)."""
    customer = make_customer(organization, external_id="pg_cus")
    plan, _ = _seat_plan(organization, model="graduated", properties=GRADUATED)
    sub = subscribe(customer, plan, at(2023, 9, 1), external_id="pg_sub")

    def usage(when):
        data = current_usage(organization, external_customer_id="pg_cus", external_subscription_id="pg_sub", at=when)
        return data["amount_cents"], data["charges_usage"][0]["units"]

    # Before any event: Lago's current ProratedGraduatedService bills the first tier's flat fee at
    # zero units (result_with_flat_amount(0, 0, 0)); the older scenario's 0 predates that.
    assert usage(at(2023, 9, 1, 12)) == (10_000, "0.0")
    steps = [
        (10, "2", 11_400, "2.0"),
        (16, "5", 18_400, "7.0"),
        (20, "-6", 16_567, "1.0"),
        (25, "10", 17_967, "11.0"),
        (26, "4", 18_300, "15.0"),
        (30, "60", 18_700, "75.0"),
    ]
    for day, amount, cents, units in steps:
        add_events(sub, "seats", [at(2023, 9, day)], amount=amount)
        assert usage(at(2023, 9, day, 1)) == (cents, units), day
    [invoice] = customer_bill(customer.id, at=at(2023, 10, 1, 1))
    assert invoice.total_amount_cents == 18_700
    assert usage(at(2023, 10, 5)) == (37_000, "75.0")
    add_events(sub, "seats", [at(2023, 10, 17)], amount=20)
    assert usage(at(2023, 10, 17, 1)) == (38_935, "95.0")


def test_lago_prorated_graduated_terminated(organization):
    """prorated_graduated_spec "subscription is terminated": 6 seats carried, 1 added on the
    termination day (7 December) → 6 × 7/31 + 1/31 prorated units, the first 5 free → 258."""
    customer = make_customer(organization, external_id="pt_cus")
    ranges = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 5, "per_unit_amount": "0", "flat_amount": "0"},
            {"from_value": 6, "to_value": None, "per_unit_amount": "10", "flat_amount": "0"},
        ]
    }
    plan, _ = _seat_plan(organization, model="graduated", properties=ranges)
    sub = subscribe(customer, plan, at(2023, 10, 1), external_id="pt_sub")
    add_events(sub, "seats", [at(2023, 10, 5)], amount=4)
    add_events(sub, "seats", [at(2023, 10, 5)], amount=3)
    add_events(sub, "seats", [at(2023, 11, 5)], amount=-1)
    customer_bill(customer.id, at=at(2023, 12, 1, 1))

    data = current_usage(
        organization, external_customer_id="pt_cus", external_subscription_id="pt_sub", at=at(2023, 12, 7)
    )
    assert (data["amount_cents"], data["charges_usage"][0]["units"]) == (1_000, "6.0")
    add_events(sub, "seats", [at(2023, 12, 7, 8)], amount=1)
    data = current_usage(
        organization, external_customer_id="pt_cus", external_subscription_id="pt_sub", at=at(2023, 12, 7, 9)
    )
    assert (data["amount_cents"], data["charges_usage"][0]["units"]) == (1_806, "7.0")

    subscription_terminate(organization, sub, now=at(2023, 12, 7, 10))
    [closing] = customer_bill(customer.id, at=at(2023, 12, 7, 11))
    assert closing.total_amount_cents == 258


def test_prorated_volume_picks_the_tier_with_full_units(organization):
    """Volume: 10 seats from 16 September (15/30) → tier 6–∞ chosen by the 10 full seats, $2 × 5 units + $5."""
    customer = make_customer(organization)
    volume = {
        "volume_ranges": [
            {"from_value": 0, "to_value": 5, "per_unit_amount": "4", "flat_amount": "0"},
            {"from_value": 6, "to_value": None, "per_unit_amount": "2", "flat_amount": "5"},
        ]
    }
    plan, _ = _seat_plan(organization, model="volume", properties=volume)
    sub = subscribe(customer, plan, at(2023, 9, 1))
    add_events(sub, "seats", [at(2023, 9, 16)], amount=10)
    [invoice] = customer_bill(customer.id, at=at(2023, 10, 1, 1))
    assert _charge_fee(invoice).amount_cents == 1500


def test_prorated_unique_count_seats(organization):
    customer = make_customer(organization)
    plan, _ = _seat_plan(organization, aggregation="unique_count_agg")
    sub = subscribe(customer, plan, at(2023, 7, 1))
    add_events(sub, "seats", [at(2023, 7, 10, 8)], user="ann")
    add_events(sub, "seats", [at(2023, 7, 20, 8)], user="ann", operation_type="remove")
    add_events(sub, "seats", [at(2023, 7, 25, 8)], user="bob")
    [invoice] = customer_bill(customer.id, at=at(2023, 8, 1, 1))
    # ann 10..20 = 11 days, bob 25..31 = 7 days → 18/31 = 0.58065 (ceil) × $10
    assert _charge_fee(invoice).amount_cents == 581


def test_current_usage_equals_the_invoice(organization):
    customer = make_customer(organization, external_id="cu_cus")
    plan, _ = _seat_plan(organization, model="graduated", properties=GRADUATED)
    sub = subscribe(customer, plan, at(2024, 2, 1), external_id="cu_sub")
    add_events(sub, "seats", [at(2024, 2, 3, 5), at(2024, 2, 20, 23)], amount=4)
    add_events(sub, "seats", [at(2024, 2, 25, 5)], amount=-3)
    data = current_usage(
        organization, external_customer_id="cu_cus", external_subscription_id="cu_sub", at=at(2024, 2, 28)
    )
    [invoice] = customer_bill(customer.id, at=at(2024, 3, 1, 1))
    assert data["amount_cents"] == _charge_fee(invoice).amount_cents > 0


def test_pay_in_advance_prorated_standard_bills_each_event_for_its_days_left(organization):
    """Prorated in advance (standard only): +1 seat on 10 July → 22/31 → 710; +2 on 20 July → 2 × 12/31 → 774."""
    from invoicing.services.advance import pay_in_advance_fees

    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "seats", "sum_agg", field_name="amount", recurring=True)
    make_charge(plan, metric, properties={"amount": "10"}, prorated=True, pay_in_advance=True, code="seats")
    sub = subscribe(customer, plan, at(2023, 7, 1))
    add_events(sub, "seats", [at(2023, 7, 10, 8)], amount=1)
    add_events(sub, "seats", [at(2023, 7, 20, 8)], amount=2)
    fees = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=at(2023, 7, 21))
    assert [(f.units, f.amount_cents) for f in fees] == [(D("0.70968"), 710), (D("0.77420"), 774)]


def test_prorated_groups_and_filters(organization):
    """Grouped by team: a 1 seat from 10 July (22/31 → 710), b 2 seats from 20 July (2 × 12/31 → 774);
    current usage shows each group's full units."""
    from catalog.models import BillableMetricFilter, ChargeFilter

    customer = make_customer(organization, external_id="grp_cus")
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "seats", "sum_agg", field_name="amount", recurring=True)
    BillableMetricFilter.objects.create(billable_metric=metric, key="region", values=["eu", "us"])
    charge = make_charge(
        plan,
        metric,
        properties={"amount": "10", "pricing_group_keys": ["team"]},
        pricing_group_keys=["team"],
        prorated=True,
        code="seats",
    )
    ChargeFilter.objects.create(
        organization=organization,
        charge=charge,
        values={"region": ["us"]},
        properties={"amount": "20", "pricing_group_keys": ["team"]},
    )
    sub = subscribe(customer, plan, at(2023, 7, 1), external_id="grp_sub")
    add_events(sub, "seats", [at(2023, 7, 10, 8)], amount=1, team="a", region="eu")
    add_events(sub, "seats", [at(2023, 7, 20, 8)], amount=2, team="b", region="eu")
    add_events(sub, "seats", [at(2023, 7, 20, 8)], amount=1, team="b", region="us")
    data = current_usage(
        organization, external_customer_id="grp_cus", external_subscription_id="grp_sub", at=at(2023, 7, 25)
    )
    usage = data["charges_usage"][0]
    assert usage["units"] == "4.0"
    assert sorted((g["grouped_by"]["team"], g["units"], g["amount_cents"]) for g in usage["grouped_usage"]) == [
        ("a", "1.0", 710),
        ("b", "3.0", 774 + 774),  # eu: 2 × 12/31 at $10; us: 1 × 12/31 at $20
    ]
    [invoice] = customer_bill(customer.id, at=at(2023, 8, 1, 1))
    assert sorted(invoice.fees.filter(fee_type="charge").values_list("amount_cents", flat=True)) == [710, 774, 774]
    assert data["amount_cents"] == invoice.fees_amount_cents


def test_lago_prorated_graduated_upgrade_closing_invoice(organization):
    """prorated_graduated_spec "when upgrade is performed": on 18 October 05:20 the closing invoice bills
    the 75 carried seats for 17/31 (the upgrade day belongs to the new plan) and the 20 added on the
    17th for 2/31 → **27,323**."""
    from subscriptions.models import SubscriptionStatus

    customer = make_customer(organization, external_id="up_cus")
    plan, _ = _seat_plan(organization, model="graduated", properties=GRADUATED)
    sub = subscribe(customer, plan, at(2023, 9, 1), external_id="up_sub")
    for day, amount in [(10, 2), (16, 5), (20, -6), (25, 10), (26, 4), (30, 60)]:
        add_events(sub, "seats", [at(2023, 9, day)], amount=amount)
    [september] = customer_bill(customer.id, at=at(2023, 10, 1, 1))
    assert september.total_amount_cents == 18_700
    add_events(sub, "seats", [at(2023, 10, 17)], amount=20)
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2023, 10, 18, 5, 20)
    sub.termination_reason = "upgraded"
    sub.save()
    [closing] = customer_bill(customer.id, at=at(2023, 10, 18, 6))
    assert closing.invoice_subscriptions.get().invoicing_reason == "subscription_terminating"
    assert closing.total_amount_cents == 27_323


def test_lago_prorated_graduated_unique_count(organization):
    """prorated_graduated_spec "with unique_count_agg", two ranges (0–1 @10 + 100, 2–∞ @5 + 50): a
    value removed and added again is a second presence (tiers follow the presences): 10,700 → 10,100
    → 15,383 → 15,650 → 15,650 → 15,833, invoice 15,833; October 17,000, then 17,242."""
    customer = make_customer(organization, external_id="uc_cus")
    ranges = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 1, "per_unit_amount": "10", "flat_amount": "100"},
            {"from_value": 2, "to_value": None, "per_unit_amount": "5", "flat_amount": "50"},
        ]
    }
    plan, _ = _seat_plan(organization, model="graduated", properties=ranges, aggregation="unique_count_agg")
    sub = subscribe(customer, plan, at(2023, 9, 1), external_id="uc_sub")

    def usage(when):
        data = current_usage(organization, external_customer_id="uc_cus", external_subscription_id="uc_sub", at=when)
        return data["amount_cents"], data["charges_usage"][0]["units"]

    steps = [
        (10, "1111", "add", 10_700, "1.0"),
        (12, "1111", "remove", 10_100, "0.0"),
        (14, "1111", "add", 15_383, "1.0"),
        (15, "2222", "add", 15_650, "2.0"),
        (16, "2222", "add", 15_650, "2.0"),
        (20, "3333", "add", 15_833, "3.0"),
    ]
    for day, value, operation, cents, units in steps:
        add_events(sub, "seats", [at(2023, 9, day)], user=value, operation_type=operation)
        assert usage(at(2023, 9, day, 1)) == (cents, units), day
    [invoice] = customer_bill(customer.id, at=at(2023, 10, 1, 1))
    assert invoice.total_amount_cents == 15_833
    assert usage(at(2023, 10, 5)) == (17_000, "3.0")
    add_events(sub, "seats", [at(2023, 10, 17)], user="4444")
    assert usage(at(2023, 10, 17, 1)) == (17_242, "4.0")


@pytest.mark.django_db(transaction=True)
def test_lago_python_client_prorated_seats(lago):
    """Through Lago's client: a prorated seats charge is accepted (refused on a weighted sum), seats
    are sent today, and current usage bills them for the days left in the month."""
    import calendar

    from lago_python_client.exceptions import LagoApiError
    from lago_python_client.models import BillableMetric, Charge, Charges, Customer, Event, Plan, Subscription

    from billing_project.core.money import to_cents
    from metering.prorated import ceil_units

    client = lago.client
    seats = client.billable_metrics.create(
        BillableMetric(name="Seats", code="lc_seats", aggregation_type="sum_agg", field_name="n", recurring=True)
    )
    storage = client.billable_metrics.create(
        BillableMetric(
            name="GB",
            code="lc_gb",
            aggregation_type="weighted_sum_agg",
            field_name="gb",
            recurring=True,
            weighted_interval="seconds",
        )
    )
    with pytest.raises(LagoApiError) as refused:
        client.plans.create(
            Plan(name="W", code="lc_w", interval="monthly", amount_cents=0, amount_currency="USD",
                 charges=Charges(__root__=[Charge(billable_metric_id=storage.lago_id, charge_model="standard",
                                                  prorated=True, properties={"amount": "1"})]))
        )  # fmt: skip
    assert refused.value.status_code == 422
    plan = client.plans.create(
        Plan(name="Seats", code="lc_seats_plan", interval="monthly", amount_cents=0, amount_currency="USD",
             charges=Charges(__root__=[Charge(billable_metric_id=seats.lago_id, charge_model="standard",
                                              prorated=True, properties={"amount": "10"})]))
    )  # fmt: skip
    assert plan.charges.__root__[0].prorated is True
    client.customers.create(Customer(external_id="lc_seat_cus", currency="USD"))
    today = datetime.now(UTC).date()
    first = today.replace(day=1)
    client.subscriptions.create(
        Subscription(external_customer_id="lc_seat_cus", plan_code="lc_seats_plan", external_id="lc_seat_sub",
                     subscription_at=f"{first.isoformat()}T00:00:00Z")
    )  # fmt: skip
    client.events.create(
        Event(transaction_id="lc_seat_1", external_subscription_id="lc_seat_sub", code="lc_seats",
              properties={"n": "3"})
    )  # fmt: skip
    usage = client.customers.current_usage("lc_seat_cus", "lc_seat_sub")
    month_days = calendar.monthrange(today.year, today.month)[1]
    days_left = month_days - today.day + 1
    expected = to_cents(ceil_units(D(3) * D(days_left) / D(month_days)) * 10, "USD")
    charge_usage = usage.charges_usage[0]
    assert (charge_usage.units, charge_usage.amount_cents) == ("3.0", expected)


@pytest.mark.parametrize(("prorated", "instant"), [(False, 1200), (True, 658)])
def test_recurring_pay_in_advance_seats_are_billed_again_at_each_period_start(organization, prorated, instant):
    """Lago's recurring_pay_in_advance_charges_spec (invoiceable): a $12 seat added on 15 March is billed
    at once (prorated: 17/31 → 658), then in full in advance with each period, on the periodic
    invoice (1 April, 1 May: 1,200 each, window of the period that opens)."""
    from invoicing.services.advance import pay_in_advance_fees

    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=49_900, pay_in_advance=True)
    metric = make_metric(organization, "seats", "sum_agg", field_name="amount", recurring=True)
    metered = make_metric(organization, "api_calls")
    make_charge(plan, metric, properties={"amount": "12"}, pay_in_advance=True, prorated=prorated, code="seats")
    make_charge(plan, metered, properties={"amount": "1"}, pay_in_advance=True, code="calls")  # not recurring
    sub = subscribe(customer, plan, at(2024, 3, 5, 12, 12))
    customer_bill(customer.id, at=at(2024, 3, 5, 13))
    add_events(sub, "seats", [at(2024, 3, 15, 10)], amount=1)
    add_events(sub, "api_calls", [at(2024, 3, 15, 10)])
    fees = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=at(2024, 3, 15, 11))
    assert sorted(f.amount_cents for f in fees) == sorted([instant, 100])
    [april] = customer_bill(customer.id, at=at(2024, 4, 1, 0, 12))
    charge_fees = list(april.fees.filter(fee_type="charge"))
    assert [(f.charge.code, f.units, f.amount_cents, f.pay_in_advance) for f in charge_fees] == [
        ("seats", D(1), 1200, False)
    ]
    assert charge_fees[0].properties["charges_from_datetime"] == at(2024, 4, 1).isoformat()
    assert charge_fees[0].properties["charges_to_datetime"] == at(2024, 5, 1).isoformat()
    assert april.fees_amount_cents == 49_900 + 1200
    [may] = customer_bill(customer.id, at=at(2024, 5, 1, 0, 12))
    assert list(may.fees.filter(fee_type="charge").values_list("amount_cents", flat=True)) == [1200]
