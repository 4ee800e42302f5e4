"""The catalog's step of `manage.py seed_demo`: a small price list. Idempotent (by code)."""

from __future__ import annotations

from catalog import services
from catalog.inputs import (
    AddOnFields,
    BillableMetricFields,
    ChargeFields,
    ChargeFilterFields,
    CouponFields,
    MetricFilterFields,
    PlanFields,
    TaxFields,
)
from catalog.models import AddOn, BillableMetric, Coupon, Plan, Tax
from customers.models import Organization

METRICS = [
    BillableMetricFields(name="API calls", code="api_calls", aggregation_type="count_agg",
                         filters=(MetricFilterFields(key="region", values=["us", "eu"]),)),
    BillableMetricFields(name="Storage (GB)", code="storage_gb", aggregation_type="sum_agg", field_name="gb"),
    BillableMetricFields(name="Active users", code="active_users", aggregation_type="unique_count_agg",
                         field_name="user_id"),
]  # fmt: skip


def seed_catalog(organization: Organization) -> str:
    if not Tax.objects.filter(organization=organization, code="vat_20").exists():
        services.tax_create(organization, data=TaxFields(name="VAT 20%", code="vat_20", rate="20"))
    metrics = {}
    for data in METRICS:
        code = str(data.code)
        metric = BillableMetric.live.filter(organization=organization, code=code).first()
        metrics[code] = metric or services.billable_metric_create(organization, data=data)
    if not Plan.live.filter(organization=organization, code="startup_monthly", parent__isnull=True).exists():
        services.plan_create(
            organization,
            data=PlanFields(
                name="Startup (monthly)", code="startup_monthly", interval="monthly", amount_cents=4900,
                amount_currency="USD", pay_in_advance=True, tax_codes=["vat_20"],
                charges=(
                    ChargeFields(
                        billable_metric_id=str(metrics["storage_gb"].id), charge_model="standard",
                        properties={"amount": "0.25"},
                    ),
                    ChargeFields(
                        billable_metric_id=str(metrics["api_calls"].id), charge_model="graduated",
                        properties={
                            "graduated_ranges": [
                                {"from_value": 0, "to_value": 10000, "per_unit_amount": "0", "flat_amount": "0"},
                                {"from_value": 10001, "to_value": None, "per_unit_amount": "0.001",
                                 "flat_amount": "5"},
                            ]
                        },
                        filters=[
                            ChargeFilterFields(
                                values={"region": ["eu"]}, invoice_display_name="API calls (EU)",
                                properties={"graduated_ranges": [
                                    {"from_value": 0, "to_value": None, "per_unit_amount": "0.002",
                                     "flat_amount": "0"}
                                ]},
                            ),
                        ],
                    ),
                    ChargeFields(
                        billable_metric_id=str(metrics["active_users"].id), charge_model="package",
                        properties={"amount": "10", "package_size": 5, "free_units": 5},
                    ),
                ),
            ),
        )  # fmt: skip
    if not Coupon.live.filter(organization=organization, code="welcome_10").exists():
        services.coupon_create(
            organization,
            data=CouponFields(name="Welcome 10%", code="welcome_10", coupon_type="percentage", percentage_rate="10",
                              frequency="recurring", frequency_duration=3, expiration="no_expiration"),
        )  # fmt: skip
    if not AddOn.live.filter(organization=organization, code="onboarding").exists():
        services.add_on_create(
            organization,
            data=AddOnFields(
                name="Onboarding session", code="onboarding", amount_cents=50000, amount_currency="USD",
                tax_codes=["vat_20"],
            ),
        )  # fmt: skip
    return "catalog: 3 metrics, plan startup_monthly (base fee + standard, graduated, package), tax, coupon, add-on"
