"""Signals metering sends so that apps above it can react (they connect in ready()).

events_ingested(sender=Organization, organization=<Organization>, external_subscription_ids=<frozenset[str]>,
                pay_in_advance_charges=<bool | None>)
    Sent by `events_ingest` once a request's new events are stored, with the external ids of the
    known subscriptions they name (duplicates and unknown subscriptions are left out), and whether
    the organization has live pay-in-advance charges when the insert statement answered it (the
    single-event path; None: not asked, the receiver asks the database). Receivers
    must stay cheap (this is the ingestion hot path): mark what to recompute and enqueue a task on
    commit, never compute inline.
"""

from __future__ import annotations

from django.dispatch import Signal

# `use_caching`: the receivers are looked up once per sender, not on every ingestion (Django
# empties that cache whenever a receiver connects or disconnects).
events_ingested = Signal(use_caching=True)
