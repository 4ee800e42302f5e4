"""Query parameters of the webhook deliveries list (billing_project/core/api/filters.py)."""

from __future__ import annotations

from billing_project.core.api.filters import LagoFilterSet, ListFilter, TextFilter

DELIVERY_STATUSES = ("pending", "succeeded", "failed")


class WebhookDeliveryFilters(LagoFilterSet):
    status = ListFilter(choices=DELIVERY_STATUSES)
    statuses = ListFilter(choices=DELIVERY_STATUSES)
    webhook_type = ListFilter()
    webhook_types = ListFilter()
    webhook_endpoint_id = TextFilter(help_text="lago_id of the endpoint")
