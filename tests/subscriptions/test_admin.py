"""The subscriptions admin: list with period and billing date, actions through a confirmation page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Group, User
from django.urls import reverse

from customers.roles import FINANCE_VIEWER
from subscriptions import services
from subscriptions.inputs import SubscriptionCreate
from subscriptions.models import Subscription, SubscriptionTransition
from tests.factories.subscriptions import SubscriptionPlanFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:subscriptions_subscription_changelist"


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


@pytest.fixture
def subs(organization):
    SubscriptionPlanFactory(organization=organization, code="basic", amount_cents=10000)
    SubscriptionPlanFactory(organization=organization, code="starter", amount_cents=5000)
    now = datetime.now(UTC)
    create = lambda **extra: services.subscription_create(  # noqa: E731
        organization,
        SubscriptionCreate.from_validated({"external_customer_id": "cust-1", "plan_code": "basic", **extra}),
        now=now,
    )
    active = create(external_id="sub-a")
    create(external_id="sub-a", plan_code="starter")  # scheduled downgrade
    future = create(external_id="sub-f", subscription_at="2099-01-01T00:00:00Z")
    return {
        "active": active,
        "future": future,
        "downgrade": Subscription.objects.get(external_id="sub-a", status="pending"),
    }


def test_changelist_shows_period_and_next_billing(admin_client, subs):
    page = admin_client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    html = page.content.decode()
    assert "sub-a" in html and "sub-f" in html
    assert "100.00 USD / monthly" in html
    assert "(UTC)" in html  # the current period, in the customer's timezone
    filtered = admin_client.get(reverse(CHANGELIST) + "?status__exact=pending&plan__code=starter")
    assert filtered.status_code == 200
    assert "sub-f" not in filtered.content.decode()
    change = admin_client.get(reverse("admin:subscriptions_subscription_change", args=[subs["active"].pk]))
    assert change.status_code == 200
    assert b"activate" in change.content  # the transition ledger inline
    assert admin_client.get(reverse("admin:subscriptions_subscriptiontransition_changelist")).status_code == 200


def _action(client, action, pks, confirm=False):
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [str(pk) for pk in pks]}
    if confirm:
        data["confirm"] = "yes"
    return client.post(reverse(CHANGELIST), data, follow=confirm)


def test_terminate_asks_then_terminates(admin_client, subs):
    first = _action(admin_client, "terminate", [subs["active"].pk])
    assert first.status_code == 200
    assert b"Terminate subscriptions" in first.content
    subs["active"].refresh_from_db()
    assert subs["active"].status == "active"  # nothing changed before confirmation
    done = _action(admin_client, "terminate", [subs["active"].pk], confirm=True)
    assert done.status_code == 200
    subs["active"].refresh_from_db()
    assert subs["active"].status == "terminated"
    assert b"sub-a" in done.content
    transition = SubscriptionTransition.objects.filter(subscription=subs["active"], event="terminate").get()
    assert transition.actor == "user:root"
    subs["downgrade"].refresh_from_db()
    assert subs["downgrade"].status == "canceled"  # its scheduled downgrade went with it


def test_cancel_pending_refuses_active(admin_client, subs):
    response = _action(admin_client, "cancel_pending", [subs["future"].pk, subs["active"].pk], confirm=True)
    assert response.status_code == 200
    subs["future"].refresh_from_db()
    subs["active"].refresh_from_db()
    assert subs["future"].status == "canceled"
    assert subs["active"].status == "active"
    assert b"Refused" in response.content


def test_apply_downgrade_now(admin_client, subs):
    preview = _action(admin_client, "apply_downgrade_now", [subs["active"].pk])
    assert b"switch to starter now" in preview.content
    _action(admin_client, "apply_downgrade_now", [subs["active"].pk], confirm=True)
    subs["active"].refresh_from_db()
    subs["downgrade"].refresh_from_db()
    assert subs["active"].termination_reason == "downgraded_now"
    assert subs["downgrade"].status == "active"


def test_finance_viewer_cannot_run_actions(client, subs):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(user)
    assert client.get(reverse(CHANGELIST)).status_code == 200
    assert client.get(reverse("admin:subscriptions_subscription_add")).status_code == 403
    _action(client, "terminate", [subs["active"].pk], confirm=True)
    subs["active"].refresh_from_db()
    assert subs["active"].status == "active"


def test_start_and_change_plan_from_the_admin(admin_client, organization):
    from tests.factories.customers import CustomerFactory

    customer = CustomerFactory(organization=organization, external_id="adm", currency="USD")
    basic = SubscriptionPlanFactory(organization=organization, code="basic", amount_cents=10000)
    starter = SubscriptionPlanFactory(organization=organization, code="starter", amount_cents=5000)
    url = reverse("admin:subscriptions_subscription_add")
    assert admin_client.get(url).status_code == 200
    form = {"customer": customer.pk, "plan": basic.pk, "external_id": "adm-1", "billing_time": "calendar"}
    response = admin_client.post(url, form)
    assert response.status_code == 302
    sub = Subscription.objects.get(external_id="adm-1")
    assert sub.status == "active"
    assert SubscriptionTransition.objects.filter(subscription=sub, actor="user:root").exists()
    # A downgrade, applied now on request.
    admin_client.post(url, {**form, "plan": starter.pk, "downgrade_now": "on"})
    assert Subscription.objects.get(external_id="adm-1", status="active").plan.code == "starter"
    # Refusals come back as form errors.
    bad = admin_client.post(url, {**form, "external_id": "adm-2", "ending_at": "2001-01-01 00:00"})
    assert bad.status_code == 200
    assert b"invalid_date" in bad.content
    other = SubscriptionPlanFactory(code="elsewhere")
    assert b"another organization" in admin_client.post(url, {**form, "plan": other.pk}).content
    # The payment method (docs/payments.md §12): manual, or one of the customer's saved methods.
    admin_client.post(url, {**form, "external_id": "adm-3", "payment_method": "manual"})
    assert Subscription.objects.get(external_id="adm-3").payment_method_type == "manual"
    foreign = {**form, "external_id": "adm-4", "payment_method_id": "5b6f1c0e-4f57-4a4d-9f39-9c1d5e4b0a11"}
    refused = admin_client.post(url, foreign)
    assert refused.status_code == 200 and b"invalid_payment_method" in refused.content
    assert not Subscription.objects.filter(external_id="adm-4").exists()


def test_change_page_shows_fixed_charge_units(admin_client, organization):
    from decimal import Decimal

    from subscriptions.models import FixedChargeUnits
    from tests.factories.catalog import AddOnFactory, FixedChargeFactory
    from tests.factories.invoicing import make_customer, make_plan, subscribe

    plan = make_plan(organization, amount_cents=0)
    fixed = FixedChargeFactory(plan=plan, add_on=AddOnFactory(organization=organization, name="Seats"), code="seats")
    sub = subscribe(make_customer(organization), plan, datetime(2025, 1, 1, tzinfo=UTC))
    FixedChargeUnits.objects.create(
        organization=organization, subscription=sub, fixed_charge=fixed, units=Decimal(25),
        timestamp=datetime(2025, 1, 12, tzinfo=UTC),
    )  # fmt: skip
    page = admin_client.get(reverse("admin:subscriptions_subscription_change", args=[sub.pk])).content.decode()
    assert 'id="fixed_charge_units-group"' in page
    assert "fixed charge units (each from its timestamp on)" in page.lower()
    assert "25.0000000000" in page
    assert "seats (standard)" in page
