"""The console's change of a subscription's fixed charge units (docs/console.md): a form, a preview
of what the change bills or credits (hand-computed cents below), then the change through the same
service as the API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.urls import reverse

from invoicing.billing.run import customer_bill
from invoicing.models import Fee
from subscriptions.models import FixedChargeUnits
from tests.factories.catalog import AddOnFactory, FixedChargeFactory
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:subscriptions_subscription_changelist"


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


@pytest.fixture
def on_the_12th(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: at(2025, 1, 12, 8))


def _sub(organization, **fixed):
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=0)
    FixedChargeFactory(
        plan=plan, add_on=AddOnFactory(organization=organization, code="seats", name="Seats"), code="seats",
        units=Decimal(10), properties={"amount": "10"}, prorated=True, **fixed,
    )  # fmt: skip
    sub = subscribe(customer, plan, at(2025, 1, 1), external_id="s1")
    customer_bill(customer.id, at=at(2025, 1, 1, 1))
    return sub


def _post(client, sub, **data):
    body = {"action": "change_fixed_charge_units", helpers.ACTION_CHECKBOX_NAME: [str(sub.pk)], **data}
    return client.post(reverse(CHANGELIST), body)


def test_in_advance_increase_previewed_then_billed(admin_client, organization, on_the_12th,
                                                   django_capture_on_commit_callbacks):  # fmt: skip
    """10 seats × 10.00 paid in advance (10,000 on 1 January); 25 on the 12th: 15 × 10.00 × 20/31 =
    96.774… → 96.77 shown, then billed at once (9,677) on confirmation."""
    sub = _sub(organization, pay_in_advance=True)
    form = _post(admin_client, sub)
    assert form.status_code == 200 and b'name="units"' in form.content
    preview = _post(admin_client, sub, step="preview", fixed_charge="seats", units="25", apply_units_immediately="on")
    html = preview.content.decode()
    assert "Units held now: 10 → 25" in html
    assert "Billed now (prorated increase of 15 units): 96.77 USD" in html
    assert 'name="confirm" value="yes"' in html  # the shared confirmation buttons
    assert not FixedChargeUnits.objects.exists()  # nothing changed by the preview
    with django_capture_on_commit_callbacks(execute=True):
        done = _post(admin_client, sub, step="confirm", fixed_charge="seats", units="25",
                     apply_units_immediately="on", confirm="yes")  # fmt: skip
    assert done.status_code == 302
    assert FixedChargeUnits.objects.filter(subscription=sub, units=Decimal(25)).exists()
    increase = Fee.objects.get(fee_type="fixed_charge", properties__has_key="timestamp")
    assert (increase.amount_cents, increase.units) == (9677, Decimal(15))


def test_decrease_previews_nothing_billed_or_credited(admin_client, organization, on_the_12th):
    sub = _sub(organization, pay_in_advance=True)
    preview = _post(admin_client, sub, step="preview", fixed_charge="seats", units="5", apply_units_immediately="on")
    assert "Billed now: 0.00 USD; credited: 0.00 USD (no increase)" in preview.content.decode()


def test_in_arrears_preview_shows_the_period_fee_before_and_after(admin_client, organization, on_the_12th):
    """In arrears, prorated: January's fee 10 × 10.00 = 100.00 becomes (10 × 11 + 25 × 20) / 31 ×
    10.00 = 196.774… → 196.77, billed on 1 February."""
    sub = _sub(organization)
    preview = _post(admin_client, sub, step="preview", fixed_charge="seats", units="25", apply_units_immediately="on")
    html = preview.content.decode()
    assert "This period&#x27;s fee, billed on 2025-02-01: 100.00 USD → 196.77 USD" in html


def test_bad_units_stay_on_the_form(admin_client, organization, on_the_12th):
    sub = _sub(organization)
    page = _post(admin_client, sub, step="preview", fixed_charge="seats", units="-1")
    assert "Units: a decimal from 0" in page.content.decode()
    assert not FixedChargeUnits.objects.exists()


def test_two_subscriptions_refused(admin_client, organization):
    sub = _sub(organization)
    other = subscribe(make_customer(organization), sub.plan, at(2025, 1, 1), external_id="s2")
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "change_fixed_charge_units", helpers.ACTION_CHECKBOX_NAME: [str(sub.pk), str(other.pk)]},
        follow=True,
    )
    assert "Select one active subscription." in response.content.decode()
