"""Query parameters of the subscriptions routes (billing_project/core/api/filters.py)."""

from __future__ import annotations

from rest_framework.request import Request

from billing_project.core.api.filters import LagoFilterSet, ListFilter, TextFilter
from subscriptions.models import SubscriptionStatus


class SubscriptionFilters(LagoFilterSet):
    external_customer_id = TextFilter()
    plan_code = TextFilter()
    external_id = TextFilter()
    status = ListFilter(choices=SubscriptionStatus.values)
    currency = TextFilter(help_text="the plan's currency (a customer may hold subscriptions in several)")


class SubscriptionLookupFilters(LagoFilterSet):
    """Which of the subscriptions sharing an external_id (default: the active one)."""

    paginated = False
    status = TextFilter(help_text="active (default), pending, terminated or canceled")


class SubscriptionTerminateFilters(LagoFilterSet):
    paginated = False
    status = TextFilter(help_text="active (default) or pending; another status is refused (405)")
    on_termination_credit_note = TextFilter(choices=("credit", "refund", "offset", "skip"))
    on_termination_invoice = TextFilter(choices=("generate", "skip"))


class SubscriptionChargeFilters(LagoFilterSet):
    """Which subscription's charges (`/subscriptions/{external_id}/charges...`): Lago's
    `subscription_status`, or `status`, default active."""

    subscription_status = TextFilter(help_text="active (default), pending, terminated or canceled")
    status = TextFilter(help_text="the same as subscription_status (Lago keeps both)")


class SubscriptionChargeLookupFilters(SubscriptionChargeFilters):
    paginated = False


# The query parameters the schema documents on a subscription's charge routes: its lists, and the rest.
CHARGE_LIST_PARAMETERS = SubscriptionChargeFilters.schema_parameters()
CHARGE_PARAMETERS = SubscriptionChargeLookupFilters.schema_parameters()


def charges_subscription_status(request: Request, *, paginated: bool = False) -> str | None:
    """The subscription the charge and fixed charge routes address: Lago's `subscription_status` (or
    `status`); None: the active one."""
    lookup = SubscriptionChargeFilters if paginated else SubscriptionChargeLookupFilters
    params = lookup.parse(request)
    return params["subscription_status"] or params["status"] or None
