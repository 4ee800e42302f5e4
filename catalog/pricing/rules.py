"""Which charge models are allowed where (docs/billing-semantics.md §2.12, §5.4).

Source: api `app/models/charge.rb` and `app/models/billable_metric.rb`. Each rule gives Lago's field
and code, so the API can answer `422 {"error_details": {field: [code]}}` exactly as Lago does.
"""

from __future__ import annotations

from .properties import CHARGE_MODELS

AGGREGATION_TYPES: tuple[str, ...] = (
    "count_agg",
    "sum_agg",
    "max_agg",
    "unique_count_agg",
    "weighted_sum_agg",
    "latest_agg",
    "custom_agg",
)
PAYABLE_IN_ADVANCE_AGGREGATIONS = frozenset({"count_agg", "sum_agg", "unique_count_agg", "custom_agg"})
NON_RECURRING_AGGREGATIONS = frozenset({"count_agg", "max_agg", "latest_agg"})


def validate_charge_model_for_metric(
    charge_model: str,
    *,
    aggregation_type: str,
    recurring: bool,
    pay_in_advance: bool,
    prorated: bool,
    invoiceable: bool,
    min_amount_cents: int | None = 0,
    regroup_paid_fees: str | None = None,
) -> dict[str, list[str]]:
    """`{}` when a charge with this model and flags may price this metric, else Lago's codes.

    * `dynamic` needs `sum_agg` → `charge_model: invalid_aggregation_type_or_charge_model`;
    * `percentage` / `graduated_percentage` refuse `latest_agg` → `billable_metric: invalid_value`;
    * `pay_in_advance` refuses `volume` and max, latest and weighted-sum metrics →
      `pay_in_advance: invalid_aggregation_type_or_charge_model`;
    * `prorated` only for a recurring metric, in arrears with standard, volume or graduated, or in
      advance with standard, never on `weighted_sum_agg` →
      `prorated: invalid_billable_metric_or_charge_model`;
    * `invoiceable: false` only with pay in advance → `invoiceable: must_be_true_unless_pay_in_advance`;
    * `regroup_paid_fees` only with pay in advance and not invoiceable →
      `regroup_paid_fees: only_compatible_with_pay_in_advance_and_non_invoiceable`;
    * a spending minimum (`min_amount_cents > 0`) is refused on pay-in-advance charges →
      `min_amount_cents: not_compatible_with_pay_in_advance`.
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, code: str) -> None:
        errors.setdefault(field, [])
        if code not in errors[field]:
            errors[field].append(code)

    if charge_model not in CHARGE_MODELS:
        add("charge_model", "value_is_invalid")
        return errors
    if aggregation_type not in AGGREGATION_TYPES:
        add("billable_metric", "invalid_value")
        return errors

    if charge_model == "dynamic" and aggregation_type != "sum_agg":
        add("charge_model", "invalid_aggregation_type_or_charge_model")
    if charge_model in ("percentage", "graduated_percentage") and aggregation_type == "latest_agg":
        add("billable_metric", "invalid_value")

    if pay_in_advance and (charge_model == "volume" or aggregation_type not in PAYABLE_IN_ADVANCE_AGGREGATIONS):
        add("pay_in_advance", "invalid_aggregation_type_or_charge_model")

    if prorated and not _prorated_allowed(charge_model, aggregation_type, recurring, pay_in_advance):
        add("prorated", "invalid_billable_metric_or_charge_model")

    if not pay_in_advance and not invoiceable:
        add("invoiceable", "must_be_true_unless_pay_in_advance")

    if regroup_paid_fees is not None and not (pay_in_advance and not invoiceable):
        add("regroup_paid_fees", "only_compatible_with_pay_in_advance_and_non_invoiceable")

    if pay_in_advance and (min_amount_cents or 0) > 0:
        add("min_amount_cents", "not_compatible_with_pay_in_advance")

    return errors


def _prorated_allowed(charge_model: str, aggregation_type: str, recurring: bool, pay_in_advance: bool) -> bool:
    if aggregation_type == "weighted_sum_agg" or not recurring:
        return False
    if pay_in_advance:
        return charge_model == "standard"
    return charge_model in ("standard", "volume", "graduated")


def validate_metric_recurring(aggregation_type: str, recurring: bool) -> dict[str, list[str]]:
    """`recurring: true` is refused on count, max and latest metrics (api `billable_metric.rb`)."""
    if recurring and aggregation_type in NON_RECURRING_AGGREGATIONS:
        return {"recurring": ["not_compatible_with_aggregation_type"]}
    return {}
