"""Closing and opening invoices right after a subscription's state change (docs/invoicing.md §4).

    subscriptions_bill_now(subscription_ids, *, reason, at=None, now=None) -> [Invoice]

A termination, a plan change and the start of a subscription whose base fee is paid in advance
are invoiced within seconds, as Lago does, not at the next hourly billing sweep: the
subscriptions app's signals (`subscription_terminated`, `subscription_started`,
`subscription_trial_ended`) enqueue `invoicing.bill_subscriptions` on commit
(`invoicing/receivers.py`), which calls this service for exactly the subscriptions concerned.

What is billed is what the sweep would bill for those subscriptions (`billing.run.customer_bill`
restricted to them): the due items decide the periods and their `invoicing_reason`
(`subscription_terminating` for the subscription that ended, `subscription_starting` for an
in-advance plan that starts). A plan change bills the old and the new subscription together,
so both periods share one invoice (Lago's `upgrading`). `reason` names why the billing was asked
for (`subscription_terminating`, `upgrading`, `subscription_starting`) and is only logged.

Exactly once: the customer row is locked while billing and the unique constraint on
(subscription, reason, period) refuses a second invoice for a period, so this task, a retry of
it and the sweep racing it leave one invoice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from invoicing.billing.fixed_charges import has_advance_fixed_charges
from invoicing.billing.run import customer_bill
from invoicing.models import Invoice
from subscriptions.models import OnTerminationCreditNote, Subscription, SubscriptionStatus

logger = logging.getLogger(__name__)

SUBSCRIPTION_STARTING = "subscription_starting"
SUBSCRIPTION_TERMINATING = "subscription_terminating"
UPGRADING = "upgrading"
REASONS = (SUBSCRIPTION_STARTING, SUBSCRIPTION_TERMINATING, UPGRADING)


def subscriptions_bill_now(
    subscription_ids: Iterable[Any],
    *,
    reason: str,
    at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> list[Invoice]:
    """Bill what is due now for these subscriptions (one transaction per customer).

    A terminated in-advance subscription (base fee or fixed charges) gets its credit note for the unused days first
    (`credit_note_create_for_termination`, idempotent), so that the closing invoice that follows
    consumes it, in the order Lago creates them."""
    at = at or timezone.now()
    now = now or at
    subscriptions = list(
        Subscription.objects.filter(id__in=[str(pk) for pk in subscription_ids])
        .select_related("plan", "customer")
        .order_by("started_at", "id")
    )
    by_customer: dict[Any, list[Any]] = defaultdict(list)
    for subscription in subscriptions:
        if (
            subscription.status == SubscriptionStatus.TERMINATED
            and (subscription.plan.pay_in_advance or has_advance_fixed_charges(subscription.plan_id))
            and subscription.on_termination_credit_note != OnTerminationCreditNote.SKIP
        ):
            from invoicing.credits.services.credit_notes import credit_note_create_for_termination

            credit_note_create_for_termination(subscription, now=now)
        by_customer[subscription.customer_id].append(subscription.id)
    invoices: list[Invoice] = []
    for customer_id, ids in by_customer.items():
        try:
            created = customer_bill(customer_id, at=at, now=now, subscription_ids=ids)
        except IntegrityError:
            # The sweep invoiced the same period between our read and our write: nothing left.
            created = []
        invoices.extend(created)
    logger.info("billed now (%s): %d subscription(s), %d invoice(s)", reason, len(subscriptions), len(invoices))
    return invoices
