"""The finance console pages of the catalog."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from catalog.models import AppliedCoupon, BillableMetric, Charge, ChargeFilter, Coupon, FixedCharge, Plan, Tax
from tests.factories.catalog import (
    AddOnFactory,
    AppliedCouponFactory,
    BillableMetricFactory,
    BillableMetricFilterFactory,
    ChargeFactory,
    ChargeFilterFactory,
    CouponFactory,
    PlanFactory,
    TaxFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.test", "pw")
    client.force_login(user)
    return client


GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "0", "flat_amount": "0"},
        {"from_value": 101, "to_value": None, "per_unit_amount": "0.01", "flat_amount": "2"},
    ]
}


def test_every_changelist_add_and_change_page_loads(staff_client, organization):
    metric = BillableMetricFactory(organization=organization)
    BillableMetricFilterFactory(billable_metric=metric)
    plan = PlanFactory(organization=organization)
    charge = ChargeFactory(plan=plan, billable_metric=metric, charge_model="graduated", properties=GRADUATED)
    ChargeFilterFactory(charge=charge)
    tax = TaxFactory(organization=organization)
    add_on = AddOnFactory(organization=organization)
    coupon = CouponFactory(organization=organization)
    applied = AppliedCouponFactory(coupon=coupon)
    pages = {
        "billablemetric": metric, "plan": plan, "charge": charge, "tax": tax, "addon": add_on, "coupon": coupon,
        "appliedcoupon": applied,
    }  # fmt: skip
    for name, obj in pages.items():
        assert staff_client.get(f"/admin/catalog/{name}/").status_code == 200, name
        assert staff_client.get(f"/admin/catalog/{name}/{obj.pk}/change/").status_code == 200, name
    for name in ("billablemetric", "plan", "tax", "addon", "coupon"):
        assert staff_client.get(f"/admin/catalog/{name}/add/").status_code == 200, name
    assert staff_client.get("/admin/catalog/appliedcoupon/add/").status_code == 403
    assert staff_client.get("/admin/catalog/charge/add/").status_code == 403
    for query in ("?interval__exact=monthly", "?amount_currency__exact=USD", "?charges__charge_model=graduated",
                  "?q=" + plan.code):  # fmt: skip
        page = staff_client.get(f"/admin/catalog/plan/{query}")
        assert page.status_code == 200, query
        assert plan.code in page.content.decode()
    listing = staff_client.get("/admin/catalog/plan/").content.decode()
    assert "101+ @ 0.01 USD + 2 USD flat" in listing  # readable tiers
    assert "10.00 USD" in listing  # base fee with its currency
    detail = staff_client.get(f"/admin/catalog/plan/{plan.pk}/change/").content.decode()
    assert "0–100 @ 0 USD" in detail


def test_tax_admin_uses_the_service_rules(staff_client, organization):
    data = {"organization": organization.pk, "name": "VAT", "code": "vat", "rate": "20", "description": ""}
    assert staff_client.post("/admin/catalog/tax/add/", data).status_code == 302
    duplicate = staff_client.post("/admin/catalog/tax/add/", data)
    assert duplicate.status_code == 200 and "value_already_exist" in duplicate.content.decode()
    assert Tax.objects.count() == 1


def test_metric_admin_with_filters_and_validation(staff_client, organization):
    data = {"organization": organization.pk, "name": "Calls", "code": "calls", "aggregation_type": "max_agg",
            "field_name": "n", "recurring": "on", "description": "", "filters_text": "",
            "filters-TOTAL_FORMS": "0", "filters-INITIAL_FORMS": "0", "filters-MIN_NUM_FORMS": "0",
            "filters-MAX_NUM_FORMS": "1000"}  # fmt: skip
    refused = staff_client.post("/admin/catalog/billablemetric/add/", data)
    assert "not_compatible_with_aggregation_type" in refused.content.decode()
    data.pop("recurring")
    data["filters_text"] = "region: us, eu\ncloud: aws"
    assert staff_client.post("/admin/catalog/billablemetric/add/", data).status_code == 302
    metric = BillableMetric.live.get(code="calls")
    assert sorted((f.key, f.values) for f in metric.filters.all()) == [("cloud", ["aws"]), ("region", ["us", "eu"])]
    # deleting from the console is the API's soft delete
    response = staff_client.post(f"/admin/catalog/billablemetric/{metric.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    metric.refresh_from_db()
    assert metric.deleted_at is not None


def _plan_form(organization, metric, charge_properties, charge_model="graduated", **charge):
    data = {
        "organization": organization.pk, "name": "Pro", "code": "pro", "interval": "monthly", "amount": "49.00",
        "amount_currency": "USD", "trial_period": "0", "description": "", "invoice_display_name": "",
        "charges-TOTAL_FORMS": "1", "charges-INITIAL_FORMS": "0", "charges-MIN_NUM_FORMS": "0",
        "charges-MAX_NUM_FORMS": "1000",
        "charges-0-billable_metric": str(metric.pk), "charges-0-code": "api", "charges-0-charge_model": charge_model,
        "charges-0-properties": charge_properties, "charges-0-invoiceable": "on", "charges-0-min_amount": "",
        "charges-0-invoice_display_name": "",
        # the plan's entitlements inline (entitlements/admin.py), left empty
        "entitlements-TOTAL_FORMS": "0", "entitlements-INITIAL_FORMS": "0", "entitlements-MIN_NUM_FORMS": "0",
        "entitlements-MAX_NUM_FORMS": "1000",
        # the fixed charges inline, left empty
        "fixed_charges-TOTAL_FORMS": "0", "fixed_charges-INITIAL_FORMS": "0", "fixed_charges-MIN_NUM_FORMS": "0",
        "fixed_charges-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    data.update({f"charges-0-{k}": v for k, v in charge.items()})
    return data


def test_plan_editor_creates_plan_with_inline_charges(staff_client, organization):
    metric = BillableMetricFactory(organization=organization, code="calls", aggregation_type="count_agg")
    body = '{"graduated_ranges": [{"from_value": 0, "to_value": null, "per_unit_amount": 0.015, "flat_amount": "0"}]}'
    response = staff_client.post("/admin/catalog/plan/add/", _plan_form(organization, metric, body))
    assert response.status_code == 302, response.content.decode()[:2000]
    plan = Plan.live.get(code="pro")
    assert plan.amount_cents == 4900  # typed as 49.00 USD
    charge = Charge.live.get(plan=plan)
    # a JSON number is read exactly and stored as Lago's decimal string
    assert charge.properties["graduated_ranges"][0]["per_unit_amount"] == "0.015"
    assert charge.organization_id == organization.pk


def test_plan_editor_saves_inline_fixed_charges(staff_client, organization):
    metric = BillableMetricFactory(organization=organization, code="calls", aggregation_type="count_agg")
    seats = AddOnFactory(organization=organization, code="seats")
    body = '{"graduated_ranges": [{"from_value": 0, "to_value": null, "per_unit_amount": "1", "flat_amount": "0"}]}'
    data = _plan_form(organization, metric, body)
    data.update({
        "fixed_charges-TOTAL_FORMS": "1", "fixed_charges-0-add_on": str(seats.pk), "fixed_charges-0-code": "",
        "fixed_charges-0-charge_model": "standard", "fixed_charges-0-units": "10",
        "fixed_charges-0-properties": '{"amount": "12.50"}', "fixed_charges-0-pay_in_advance": "on",
        "fixed_charges-0-invoice_display_name": "",
    })  # fmt: skip
    response = staff_client.post("/admin/catalog/plan/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    fixed = FixedCharge.live.get(plan__code="pro")
    assert (fixed.code, fixed.units, fixed.properties, fixed.pay_in_advance) == ("seats", 10, {"amount": "12.50"}, True)
    data["fixed_charges-0-properties"] = '{"amount": "x"}'
    data["code"] = "pro2"
    refused = staff_client.post("/admin/catalog/plan/add/", data)
    assert refused.status_code == 200
    assert "invalid_amount" in refused.content.decode()


@pytest.mark.parametrize(
    ("properties", "model", "extra", "code"),
    [
        ('{"graduated_ranges": [{"from_value": 5, "to_value": null, "per_unit_amount": "1", "flat_amount": "0"}]}',
         "graduated", {}, "invalid_graduated_ranges"),
        ('{"amount": "x"}', "standard", {}, "invalid_amount"),
        ('{"volume_ranges": [{"from_value": 0, "to_value": null, "per_unit_amount": "1", "flat_amount": "0"}]}',
         "volume", {"pay_in_advance": "on"}, "invalid_aggregation_type_or_charge_model"),
    ],
)  # fmt: skip
def test_plan_editor_refuses_what_the_api_refuses(staff_client, organization, properties, model, extra, code):
    metric = BillableMetricFactory(organization=organization, code="calls", aggregation_type="count_agg")
    response = staff_client.post(
        "/admin/catalog/plan/add/", _plan_form(organization, metric, properties, model, **extra)
    )
    assert response.status_code == 200
    assert code in response.content.decode()
    assert not Plan.objects.exists()


def test_plan_editor_refuses_another_tenants_metric(staff_client, organization, other_tenant):
    metric = BillableMetricFactory(organization=other_tenant.organization)
    response = staff_client.post(
        "/admin/catalog/plan/add/", _plan_form(organization, metric, '{"amount": "1"}', "standard")
    )
    assert "billable_metric_not_found" in response.content.decode()
    assert not Plan.objects.exists()


def test_charge_filters_edited_through_the_service(staff_client, organization):
    metric = BillableMetricFactory(organization=organization)
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["us", "eu"])
    charge = ChargeFactory(plan=PlanFactory(organization=organization), billable_metric=metric)
    data = {
        "billable_metric": str(metric.pk), "code": charge.code, "charge_model": "standard",
        "properties": '{"amount": "1"}', "invoiceable": "on", "min_amount": "", "invoice_display_name": "",
        "filters-TOTAL_FORMS": "1", "filters-INITIAL_FORMS": "0", "filters-MIN_NUM_FORMS": "0",
        "filters-MAX_NUM_FORMS": "1000", "filters-0-values": '{"region": ["eu"]}',
        "filters-0-properties": '{"amount": 2.5}', "filters-0-invoice_display_name": "EU",
    }  # fmt: skip
    response = staff_client.post(f"/admin/catalog/charge/{charge.pk}/change/", data)
    assert response.status_code == 302
    charge_filter = ChargeFilter.live.get(charge=charge)
    assert (charge_filter.values, charge_filter.properties) == ({"region": ["eu"]}, {"amount": "2.5"})


def test_a_new_filter_row_knows_the_metric_keys_and_the_charge_model(staff_client, organization):
    """The blank "add another" row offers the metric's keys and values as boxes and the charge
    model's price fields, like the saved rows: nobody types JSON for a new filter."""
    import html
    import json

    metric = BillableMetricFactory(organization=organization)
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["us", "eu"])
    BillableMetricFilterFactory(billable_metric=metric, key="tier", values=["free", "pro"])
    charge = ChargeFactory(plan=PlanFactory(organization=organization), billable_metric=metric, charge_model="package")
    page = staff_client.get(f"/admin/catalog/charge/{charge.pk}/change/").content.decode()
    blank = page[page.index('id="id_filters-__prefix__-values"') - 400 :]
    blank = blank[: blank.index("</textarea>")]
    filters = json.loads(html.unescape(blank.split('data-filters="', 1)[1].split('"', 1)[0]))
    assert filters == {"region": ["us", "eu"], "tier": ["free", "pro"]}
    assert 'data-charge-model="package"' in page[page.index('id="id_filters-__prefix__-properties"') - 400 :]
    assert 'class="filter-values-editor"' in page


def test_coupon_actions(staff_client, organization):
    coupon = CouponFactory(organization=organization, code="ten")
    applied = AppliedCouponFactory(coupon=coupon)
    response = staff_client.post(
        "/admin/catalog/appliedcoupon/", {"action": "remove", "_selected_action": [str(applied.pk)]}, follow=True
    )
    assert "Terminated 1 applied coupon(s)" in response.content.decode()
    assert AppliedCoupon.objects.get(pk=applied.pk).status == "terminated"
    response = staff_client.post(
        "/admin/catalog/coupon/", {"action": "terminate", "_selected_action": [str(coupon.pk)]}, follow=True
    )
    assert "Terminated 1 coupon(s)" in response.content.decode()
    assert Coupon.objects.get(pk=coupon.pk).status == "terminated"


def test_plan_editor_generates_charge_codes(staff_client, organization):
    metric = BillableMetricFactory(organization=organization, code="calls", aggregation_type="count_agg")
    data = _plan_form(organization, metric, '{"amount": "1"}', "standard", code="")
    assert staff_client.post("/admin/catalog/plan/add/", data).status_code == 302
    assert [c.code for c in Charge.live.filter(plan__code="pro")] == ["calls"]


def test_plan_editor_freezes_charges_of_plans_in_use(staff_client, organization, monkeypatch):
    from catalog import hooks
    from tests.factories.catalog import FixedPlanUsage

    plan = PlanFactory(organization=organization)
    charge = ChargeFactory(plan=plan)
    monkeypatch.setattr(hooks.plan_usage, "_impl", FixedPlanUsage(in_use=True))
    page = staff_client.get(f"/admin/catalog/plan/{plan.pk}/change/").content.decode()
    assert 'name="charges-0-charge_model"' not in page
    assert 'name="charges-0-properties"' in page
    assert charge.charge_model in page


def test_plan_editor_taxes_commitment_thresholds(staff_client, organization):
    TaxFactory(organization=organization, code="vat")
    metric = BillableMetricFactory(organization=organization, code="calls", aggregation_type="count_agg")
    data = _plan_form(organization, metric, '{"amount": "1"}', "standard")
    data.update({"tax_codes": "vat", "minimum_commitment": "100", "usage_thresholds_text": "50\n9.00 recurring"})
    assert staff_client.post("/admin/catalog/plan/add/", data).status_code == 302
    plan = Plan.live.get(code="pro")
    assert [t.code for t in plan.taxes.all()] == ["vat"]
    assert plan.commitments.get().amount_cents == 10000
    assert sorted((t.amount_cents, t.recurring) for t in plan.usage_thresholds.all()) == [(900, True), (5000, False)]
    page = staff_client.get(f"/admin/catalog/plan/{plan.pk}/change/").content.decode()
    assert "9.00 recurring" in page  # amounts shown as typed: in the plan's currency
    assert 'value="49.00"' in page
    too_precise = staff_client.post("/admin/catalog/plan/add/", {**data, "code": "pro3", "amount": "49.001"})
    assert "USD amounts have at most 2 decimals" in too_precise.content.decode()
    assert not Plan.live.filter(code="pro3").exists()
    bad = staff_client.post("/admin/catalog/plan/add/", {**data, "code": "pro2", "tax_codes": "nope"})
    assert "tax_not_found" in bad.content.decode()


def test_coupon_admin_limits(staff_client, organization):
    PlanFactory(organization=organization, code="p")
    data = {"organization": organization.pk, "name": "Ten", "code": "ten", "coupon_type": "fixed_amount",
            "amount": "10", "amount_currency": "USD", "frequency": "once", "expiration": "no_expiration",
            "reusable": "on", "description": "", "plan_codes": "p"}  # fmt: skip
    assert staff_client.post("/admin/catalog/coupon/add/", data).status_code == 302
    coupon = Coupon.live.get(code="ten")
    assert coupon.amount_cents == 1000  # typed as 10 USD
    assert coupon.limited_plans and [t.plan.code for t in coupon.targets.all()] == ["p"]
    both = staff_client.post("/admin/catalog/coupon/add/", {**data, "code": "x", "billable_metric_codes": "m"})
    assert "only_one_limitation_type_per_coupon_allowed" in both.content.decode()


def test_plan_editor_reads_a_charge_minimum_in_the_plan_currency(staff_client, organization):
    metric = BillableMetricFactory(organization=organization, code="calls", aggregation_type="count_agg")
    data = _plan_form(organization, metric, '{"amount": "1"}', "standard", min_amount="12.50")
    assert staff_client.post("/admin/catalog/plan/add/", data).status_code == 302
    charge = Charge.live.get(plan__code="pro")
    assert charge.min_amount_cents == 1250
    page = staff_client.get(f"/admin/catalog/plan/{charge.plan_id}/change/").content.decode()
    assert 'value="12.50"' in page
    yen = _plan_form(organization, metric, '{"amount": "1"}', "standard", min_amount="12.5")
    yen.update({"code": "yen", "amount_currency": "JPY", "amount": "1000"})
    refused = staff_client.post("/admin/catalog/plan/add/", yen)
    assert "JPY amounts have no decimals" in refused.content.decode()
    assert not Plan.live.filter(code="yen").exists()
