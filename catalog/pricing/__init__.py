"""The pricing engine: pure functions, no ORM, importable without Django settings.

Public interface (import from `catalog.pricing`):

* `CHARGE_MODELS` — the models bxb prices.
* `filter_properties(model, properties)` — Lago's FilterProperties: keep the model's keys, normalized.
* `validate_properties(model, properties)` — `{}` or Lago's codes by field; `flatten_errors` gives
  the flat list Lago's API puts under `properties`.
* `validate_charge_model_for_metric(model, aggregation_type=..., recurring=..., pay_in_advance=...,
  prorated=..., invoiceable=..., min_amount_cents=0, regroup_paid_fees=None)` — docs/billing-semantics.md §2.12.
* `validate_metric_recurring(aggregation_type, recurring)`.
* `Usage`, `PricingResult`, `PricingError`, `price(model, properties, usage, currency=None)`.
* `price_in_advance(model, properties, before=, after=, currency=None)` — one pay-in-advance event.
* `price_instant(model, properties, units)` — one event on its own (standard, percentage), for
  instant fee estimates.
* `describe_properties(model, properties, currency=None)` — a one-line summary for the admin.
* `apply_metric_rounding(value, rounding_function, precision)` — a metric's units rounding.
* `spending_minimum_true_up_cents(...)` — the true-up fee of a charge's spending minimum.

Rounding to cents is not done here: see `billing_project.core.money.to_cents` and
docs/billing-semantics.md.
"""

from __future__ import annotations

from .advance import price_in_advance
from .engine import price
from .instant import INSTANT_MODELS, price_instant
from .minimum import spending_minimum_true_up_cents
from .properties import CHARGE_MODELS, filter_properties, flatten_errors, validate_properties
from .rules import AGGREGATION_TYPES, validate_charge_model_for_metric, validate_metric_recurring
from .summary import describe_properties
from .types import PricingError, PricingResult, Usage
from .units import ROUNDING_FUNCTIONS, apply_metric_rounding

__all__ = [
    "AGGREGATION_TYPES",
    "CHARGE_MODELS",
    "INSTANT_MODELS",
    "ROUNDING_FUNCTIONS",
    "PricingError",
    "PricingResult",
    "Usage",
    "apply_metric_rounding",
    "describe_properties",
    "filter_properties",
    "flatten_errors",
    "price",
    "price_in_advance",
    "price_instant",
    "spending_minimum_true_up_cents",
    "validate_charge_model_for_metric",
    "validate_metric_recurring",
    "validate_properties",
]
