"""Signals the catalog sends so that apps above it can react (they connect in ready()).

plan_deleted(sender=Plan, plan=<Plan>, organization=<Organization>)
    Sent on commit after a plan was deleted (Lago: its subscriptions are terminated).

plan_updated(sender=Plan, plan=<Plan>, organization=<Organization>, old_amount_cents=<int>)
    Sent on commit after a plan update. Lago then refreshes the plan's draft invoices and, when the
    amount changed, cancels pending downgrades that are no longer downgrades.

billable_metric_deleted(sender=BillableMetric, billable_metric=<BillableMetric>, organization=<Organization>)
    Sent on commit after a metric (and its charges) was soft-deleted. Lago then marks the draft
    invoices that used it for refresh (invoicing) and discards its events (metering).

fixed_charge_units_changed(sender=FixedCharge, fixed_charge=<FixedCharge>, organization=<Organization>,
                           at=<datetime>, apply_units_immediately=<bool>, old_units=<Decimal>)
    Sent on commit after a plan's fixed charge got new `units`. The subscriptions app records the
    quantity for the plan's live subscriptions, from `at` or from their next period.
"""

from __future__ import annotations

from django.dispatch import Signal

plan_deleted = Signal()
plan_updated = Signal()
billable_metric_deleted = Signal()
fixed_charge_units_changed = Signal()
