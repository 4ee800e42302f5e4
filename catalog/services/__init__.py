"""Catalog write services, one module per resource; every public service is re-exported here."""

from catalog.services.add_ons import add_on_create, add_on_delete, add_on_update
from catalog.services.coupons import (
    applied_coupon_create,
    applied_coupon_terminate,
    coupon_create,
    coupon_delete,
    coupon_is_applicable,
    coupon_terminate,
    coupon_update,
)
from catalog.services.fixed_charges import (
    fixed_charge_override,
    plan_fixed_charge_create,
    plan_fixed_charge_delete,
    plan_fixed_charge_update,
)
from catalog.services.metrics import (
    billable_metric_create,
    billable_metric_delete,
    billable_metric_evaluate_expression,
    billable_metric_update,
)
from catalog.services.plans import (
    charge_filter_create,
    charge_filter_delete,
    charge_filter_update,
    plan_charge_create,
    plan_charge_delete,
    plan_charge_update,
    plan_create,
    plan_delete,
    plan_metadata_delete,
    plan_metadata_set,
    plan_override_create,
    plan_override_update,
    plan_update,
)
from catalog.services.taxes import customer_taxes_set, tax_create, tax_delete, tax_update

__all__ = [
    "add_on_create",
    "add_on_delete",
    "add_on_update",
    "applied_coupon_create",
    "applied_coupon_terminate",
    "billable_metric_create",
    "billable_metric_delete",
    "billable_metric_evaluate_expression",
    "billable_metric_update",
    "charge_filter_create",
    "charge_filter_delete",
    "charge_filter_update",
    "coupon_create",
    "coupon_delete",
    "coupon_is_applicable",
    "coupon_terminate",
    "coupon_update",
    "customer_taxes_set",
    "fixed_charge_override",
    "plan_charge_create",
    "plan_charge_delete",
    "plan_charge_update",
    "plan_create",
    "plan_delete",
    "plan_fixed_charge_create",
    "plan_fixed_charge_delete",
    "plan_fixed_charge_update",
    "plan_metadata_delete",
    "plan_metadata_set",
    "plan_override_create",
    "plan_override_update",
    "plan_update",
    "tax_create",
    "tax_delete",
    "tax_update",
]
