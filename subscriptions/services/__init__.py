"""Writes for subscriptions. Each service owns its transaction (see lifecycle.py)."""

from subscriptions.services.charges import (
    subscription_charge_filter_create,
    subscription_charge_filter_delete,
    subscription_charge_filter_update,
    subscription_charge_override,
)
from subscriptions.services.lifecycle import (
    DOWNGRADE_AT_PERIOD_END,
    DOWNGRADE_IMMEDIATELY,
    subscription_activate_due,
    subscription_cancel,
    subscription_create,
    subscription_downgrade_apply_now,
    subscription_end_trial,
    subscription_reach_ending,
    subscription_send_termination_alert,
    subscription_terminate,
    subscription_update,
    subscriptions_terminate_for_customer,
    subscriptions_terminate_for_plan,
    termination_alert_days,
)
from subscriptions.services.overrides import plan_override_create, plan_override_update

__all__ = [
    "DOWNGRADE_AT_PERIOD_END",
    "DOWNGRADE_IMMEDIATELY",
    "plan_override_create",
    "plan_override_update",
    "subscription_activate_due",
    "subscription_cancel",
    "subscription_charge_filter_create",
    "subscription_charge_filter_delete",
    "subscription_charge_filter_update",
    "subscription_charge_override",
    "subscription_create",
    "subscription_downgrade_apply_now",
    "subscription_end_trial",
    "subscription_reach_ending",
    "subscription_send_termination_alert",
    "subscription_terminate",
    "subscription_update",
    "subscriptions_terminate_for_customer",
    "subscriptions_terminate_for_plan",
    "termination_alert_days",
]
