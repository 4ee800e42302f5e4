"""A charge's filters in a real browser: a new filter row is made by ticking the metric's values
and typing the price in the price editor; no JSON is typed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from catalog.models import ALL_FILTER_VALUES, ChargeFilter
from customers.roles import BILLING_ADMIN
from tests.factories.catalog import BillableMetricFactory, BillableMetricFilterFactory, ChargeFactory, PlanFactory
from tests.factories.customers import OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_new_charge_filter_is_ticked_not_typed(live_server, browser, shoot):
    base = live_server.url
    organization = OrganizationFactory(name="Filters Org")
    metric = BillableMetricFactory(organization=organization, code="gb_stored")
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["us", "eu"])
    BillableMetricFilterFactory(billable_metric=metric, key="tier", values=["free", "pro"])
    charge = ChargeFactory(plan=PlanFactory(organization=organization), billable_metric=metric, charge_model="standard")
    user = User.objects.create_user("filters", password="pw-filters", is_staff=True)
    user.groups.add(Group.objects.get(name=BILLING_ADMIN))

    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "filters")
    page.fill("#id_password", "pw-filters")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    page.goto(f"{base}/admin/catalog/charge/{charge.pk}/change/")
    page.click("#filters-group .add-row a")
    row = page.locator("#filters-0")
    editor = row.locator(".filter-values-editor")
    editor.locator('[data-key="region"] input[data-value="eu"]').check()
    editor.locator(f'[data-key="tier"] input[data-value="{ALL_FILTER_VALUES}"]').check()
    row.locator('.pricing-editor [data-field="amount"]').fill("2.5")
    row.locator('input[name="filters-0-invoice_display_name"]').fill("EU storage")
    assert page.input_value("#id_filters-0-values").replace(" ", "") == (
        '{"region":["eu"],"tier":["__ALL_FILTER_VALUES__"]}'
    )
    shoot(page, "charge-filter-ticked")
    page.click('input[name="_save"]')
    page.wait_for_url(f"{base}/admin/catalog/charge/")

    saved = ChargeFilter.live.get(charge=charge)
    assert saved.values == {"region": ["eu"], "tier": [ALL_FILTER_VALUES]}
    assert saved.properties == {"amount": "2.5"}
    assert saved.invoice_display_name == "EU storage"
