"""Receivers of lower apps' signals (connected in InvoicingConfig.ready()). Each only enqueues."""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction

_has_advance: dict[Any, tuple[float, bool]] = {}
TTL_SECONDS = 30.0


def _organization_has_advance_charges(organization_id: Any) -> bool:
    """Cached for a few seconds: the ingestion hot path must not query for every request."""
    from invoicing.services.advance import organization_has_advance_charges

    cached = _has_advance.get(organization_id)
    now = time.monotonic()
    if cached is None or now - cached[0] > TTL_SECONDS:
        cached = (now, organization_has_advance_charges(organization_id))
        _has_advance[organization_id] = cached
    return cached[1]


def on_events_ingested(sender: Any, organization: Any, external_subscription_ids: Any, **kwargs: Any) -> None:
    if not external_subscription_ids or not _organization_has_advance_charges(organization.id):
        return
    from invoicing import tasks

    organization_id, ids = str(organization.id), sorted(external_subscription_ids)
    transaction.on_commit(lambda: tasks.pay_in_advance_fees.delay(organization_id, ids))


def connect() -> None:
    from metering.signals import events_ingested

    events_ingested.connect(on_events_ingested, dispatch_uid="invoicing.pay_in_advance_fees")
