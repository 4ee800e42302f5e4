"""Celery tasks of the webhooks app. They take ids and call one service; running twice is safe."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from webhooks import selectors, services

logger = logging.getLogger(__name__)


@shared_task(name="webhooks.tasks.webhook_deliver", ignore_result=True)
def webhook_deliver(delivery_id: str) -> None:
    """One attempt of one delivery, if it is due and no other worker holds it."""
    services.webhook_delivery_attempt(delivery_id)


@shared_task(name="webhooks.tasks.webhook_deliveries_sweep", ignore_result=True)
def webhook_deliveries_sweep(limit: int = 500) -> int:
    """Fan out one task per due delivery: retries, and deliveries whose on-commit hook was lost."""
    due = selectors.webhook_deliveries_due(timezone.now(), limit=limit)
    for delivery_id in due:
        webhook_deliver.delay(delivery_id)
    if due:
        logger.info("webhook sweeper enqueued %s deliveries", len(due))
    return len(due)
