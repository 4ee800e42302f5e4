from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from catalog.models import AppliedCoupon, Coupon
from customers.models import Customer
from tests.factories.catalog import AppliedCouponFactory, BillableMetricFactory, CouponFactory, PlanFactory
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/coupons"


def coupon_payload(**overrides):
    data = {"name": "Ten off", "code": "ten", "coupon_type": "fixed_amount", "amount_cents": 1000,
            "amount_currency": "USD", "frequency": "once", "expiration": "no_expiration"}  # fmt: skip
    data.update(overrides)
    return {"coupon": data}


def test_coupon_crud(api, organization):
    PlanFactory(organization=organization, code="startup")
    created = api.post(URL, coupon_payload(applies_to={"plan_codes": ["startup"]}, reusable=False), format="json")
    assert created.status_code == 200, created.json()
    body = created.json()["coupon"]
    assert (body["coupon_type"], body["amount_cents"], body["amount_currency"]) == ("fixed_amount", 1000, "USD")
    assert (body["frequency"], body["expiration"], body["reusable"]) == ("once", "no_expiration", False)
    assert body["percentage_rate"] is None
    assert body["limited_plans"] is True and body["plan_codes"] == ["startup"]
    assert body["limited_billable_metrics"] is False and body["billable_metric_codes"] == []

    updated = api.put(f"{URL}/ten", {"coupon": {"name": "Eleven", "amount_cents": 1100}}, format="json").json()
    assert (updated["coupon"]["name"], updated["coupon"]["amount_cents"]) == ("Eleven", 1100)
    assert api.get(f"{URL}/ten").json()["coupon"]["plan_codes"] == ["startup"]
    assert api.get(URL).json()["meta"]["total_count"] == 1
    deleted = api.delete(f"{URL}/ten")
    assert deleted.status_code == 200 and deleted.json()["coupon"]["terminated_at"] is not None
    assert api.get(f"{URL}/ten").json()["code"] == "coupon_not_found"


def test_percentage_recurring_time_limited(api, organization):
    BillableMetricFactory(organization=organization, code="gb")
    expires = (timezone.now() + datetime.timedelta(days=30)).replace(microsecond=0)
    body = api.post(
        URL,
        coupon_payload(coupon_type="percentage", percentage_rate=12.5, amount_cents=None, amount_currency=None,
                       frequency="recurring", frequency_duration=3, expiration="time_limit",
                       expiration_at=expires.isoformat(), applies_to={"billable_metric_codes": ["gb"]}),
        format="json",
    ).json()["coupon"]  # fmt: skip
    assert body["percentage_rate"] == "12.5"
    assert body["amount_cents"] is None
    assert body["frequency_duration"] == 3
    assert body["expiration_at"] == expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["billable_metric_codes"] == ["gb"] and body["limited_billable_metrics"] is True


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"name": None}, {"name": ["value_is_mandatory"]}),
        ({"coupon_type": "free"}, {"coupon_type": ["value_is_invalid"]}),
        ({"amount_cents": None}, {"amount_cents": ["value_is_mandatory"]}),
        ({"amount_currency": "EURO"}, {"amount_currency": ["value_is_invalid"]}),
        ({"coupon_type": "percentage"}, {"percentage_rate": ["value_is_mandatory"]}),
        ({"coupon_type": "percentage", "percentage_rate": "101"}, {"percentage_rate": ["value_is_invalid"]}),
        ({"coupon_type": "percentage", "percentage_rate": "1.000001"}, {"percentage_rate": ["value_is_invalid"]}),
        ({"frequency": "daily"}, {"frequency": ["value_is_invalid"]}),
        ({"frequency": "recurring"}, {"frequency_duration": ["value_is_invalid"]}),
        ({"expiration": None}, {"expiration": ["value_is_mandatory"]}),
        ({"expiration": "time_limit"}, {"expiration_at": ["invalid_date"]}),
        ({"expiration": "time_limit", "expiration_at": "2001-01-01T00:00:00Z"}, {"expiration_at": ["invalid_date"]}),
        ({"expiration": "time_limit", "expiration_at": "soon"}, {"expiration_at": ["invalid_date"]}),
    ],
)
def test_coupon_validation(api, overrides, errors):
    response = api.post(URL, coupon_payload(**overrides), format="json")
    assert response.status_code == 422, response.json()
    assert response.json()["error_details"] == errors


def test_coupon_limits(api, organization):
    PlanFactory(organization=organization, code="p")
    BillableMetricFactory(organization=organization, code="m")
    both = api.post(
        URL, coupon_payload(applies_to={"plan_codes": ["p"], "billable_metric_codes": ["m"]}), format="json"
    )
    assert both.status_code == 405 and both.json()["code"] == "only_one_limitation_type_per_coupon_allowed"
    unknown = api.post(URL, coupon_payload(applies_to={"plan_codes": ["nope"]}), format="json")
    assert unknown.status_code == 404 and unknown.json()["code"] == "plan_not_found"
    assert not Coupon.objects.exists()


def test_coupon_other_tenant(api, other_tenant, organization):
    CouponFactory(organization=organization, code="ten")
    assert other_tenant.client.get(f"{URL}/ten").status_code == 404
    assert other_tenant.client.delete(f"{URL}/ten").status_code == 404
    assert other_tenant.client.get(URL).json()["coupons"] == []


def test_applied_coupon_freezes_coupon_terms(api, organization):
    coupon = CouponFactory(organization=organization, code="ten")
    AppliedCouponFactory(coupon=coupon)
    body = api.put(f"{URL}/ten", {"coupon": {"name": "New", "amount_cents": 1}}, format="json").json()["coupon"]
    assert (body["name"], body["amount_cents"]) == ("New", 1000)


# --- applied coupons ----------------------------------------------------------------------------


def test_apply_list_and_remove(api, organization):
    CouponFactory(organization=organization, code="ten", amount_cents=1000)
    customer = CustomerFactory(organization=organization, external_id="acme", currency="USD")
    created = api.post(
        "/api/v1/applied_coupons",
        {"applied_coupon": {"external_customer_id": "acme", "coupon_code": "ten", "amount_cents": 700}},
        format="json",
    )
    assert created.status_code == 200, created.json()
    applied = created.json()["applied_coupon"]
    assert applied["lago_customer_id"] == str(customer.id) and applied["external_customer_id"] == "acme"
    assert (applied["amount_cents"], applied["amount_cents_remaining"], applied["amount_currency"]) == (700, 700, "USD")
    assert (applied["status"], applied["frequency"], applied["coupon_code"]) == ("active", "once", "ten")
    assert applied["credits"] == []

    listing = api.get("/api/v1/applied_coupons", {"external_customer_id": "acme", "status": "active"}).json()
    assert [a["lago_id"] for a in listing["applied_coupons"]] == [applied["lago_id"]]
    assert api.get("/api/v1/applied_coupons", {"status": "terminated"}).json()["applied_coupons"] == []
    assert len(api.get("/api/v1/applied_coupons", {"coupon_code[]": ["ten"]}).json()["applied_coupons"]) == 1

    removed = api.delete(f"/api/v1/customers/acme/applied_coupons/{applied['lago_id']}")
    assert removed.status_code == 200
    assert removed.json()["applied_coupon"]["status"] == "terminated"
    assert removed.json()["applied_coupon"]["terminated_at"] is not None
    again = api.delete(f"/api/v1/customers/acme/applied_coupons/{applied['lago_id']}")
    assert again.status_code == 405


def test_recurring_override_and_percentage(api, organization):
    CouponFactory(
        organization=organization, code="pct", coupon_type="percentage", percentage_rate="10", amount_cents=None,
        amount_currency=None,
    )  # fmt: skip
    CustomerFactory(organization=organization, external_id="acme")
    applied = api.post(
        "/api/v1/applied_coupons",
        {"applied_coupon": {"external_customer_id": "acme", "coupon_code": "pct", "percentage_rate": "15",
                            "frequency": "recurring", "frequency_duration": 6}},
        format="json",
    ).json()["applied_coupon"]  # fmt: skip
    assert applied["percentage_rate"] == "15.0"
    assert (applied["frequency_duration"], applied["frequency_duration_remaining"]) == (6, 6)
    assert applied["amount_cents"] is None and applied["amount_cents_remaining"] is None


def test_apply_errors(api, organization, other_tenant):
    CouponFactory(organization=organization, code="once", reusable=False)
    CouponFactory(organization=organization, code="eur", amount_currency="EUR")
    CouponFactory(organization=other_tenant.organization, code="theirs")
    CustomerFactory(organization=organization, external_id="acme", currency="USD")

    def apply(**data):
        return api.post("/api/v1/applied_coupons", {"applied_coupon": data}, format="json")

    assert apply(external_customer_id="nobody", coupon_code="once").json()["code"] == "customer_not_found"
    assert apply(external_customer_id="acme", coupon_code="theirs").json()["code"] == "coupon_not_found"
    assert apply(external_customer_id="acme", coupon_code="once").status_code == 200
    second = apply(external_customer_id="acme", coupon_code="once")
    assert second.status_code == 422 and second.json()["error_details"] == {"coupon": ["coupon_is_not_reusable"]}
    other_currency = apply(external_customer_id="acme", coupon_code="eur")  # multi-currency: accepted
    assert other_currency.status_code == 200 and other_currency.json()["applied_coupon"]["amount_currency"] == "EUR"
    assert Customer.objects.get(organization=organization, external_id="acme").currency == "USD"  # default kept


def test_expired_and_deleted_coupons_cannot_be_applied(api, organization):
    expired = CouponFactory(
        organization=organization, code="old", expiration="time_limit",
        expiration_at=timezone.now() - datetime.timedelta(days=1),
    )  # fmt: skip
    CustomerFactory(organization=organization, external_id="acme")
    response = api.post(
        "/api/v1/applied_coupons", {"applied_coupon": {"external_customer_id": "acme", "coupon_code": "old"}},
        format="json",
    )  # fmt: skip
    assert response.json()["code"] == "coupon_not_found"
    assert expired.applied_coupons.count() == 0


def test_deleting_coupon_terminates_applied(api, organization):
    applied = AppliedCouponFactory(coupon=CouponFactory(organization=organization, code="ten"))
    api.delete(f"{URL}/ten")
    applied.refresh_from_db()
    assert applied.status == "terminated" and applied.terminated_at is not None


def test_applied_coupon_other_tenant(api, other_tenant, organization):
    applied = AppliedCouponFactory(coupon=CouponFactory(organization=organization))
    external_id = applied.customer.external_id
    assert other_tenant.client.get("/api/v1/applied_coupons").json()["applied_coupons"] == []
    response = other_tenant.client.delete(f"/api/v1/customers/{external_id}/applied_coupons/{applied.id}")
    assert response.status_code == 404
    wrong_customer = CustomerFactory(organization=organization, external_id="other")
    response = api.delete(f"/api/v1/customers/{wrong_customer.external_id}/applied_coupons/{applied.id}")
    assert response.json()["code"] == "applied_coupon_not_found"
    assert api.delete(f"/api/v1/customers/{external_id}/applied_coupons/not-a-uuid").status_code == 404
    assert AppliedCoupon.objects.get(pk=applied.pk).status == "active"


def test_applying_a_fixed_coupon_sets_a_missing_customer_currency(api, organization):
    CouponFactory(organization=organization, code="eur", amount_currency="EUR")
    customer = CustomerFactory(organization=organization, external_id="new", currency=None)
    response = api.post(
        "/api/v1/applied_coupons", {"applied_coupon": {"external_customer_id": "new", "coupon_code": "eur"}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.currency == "EUR"
