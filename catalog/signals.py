"""Signals the catalog sends so that apps above it can react (they connect in ready()).

plan_deleted(sender=Plan, plan=<Plan>, organization=<Organization>)
    Sent on commit after a plan was deleted (Lago: its subscriptions are terminated).
"""

from __future__ import annotations

from django.dispatch import Signal

plan_deleted = Signal()
