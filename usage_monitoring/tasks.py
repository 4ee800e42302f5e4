"""Celery tasks of usage_monitoring. Each takes ids, calls one service, and is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from customers.models import Organization
from usage_monitoring.services import evaluation


@shared_task(name="usage_monitoring.evaluate_subscription", acks_late=True)
def evaluate_subscription(organization_id: str, external_subscription_id: str) -> bool:
    """Recompute one subscription (skipped when nothing was ingested since its last evaluation)."""
    organization = Organization.objects.filter(id=organization_id).first()
    if organization is None:
        return False
    result = evaluation.subscription_evaluate(organization, external_subscription_id=external_subscription_id)
    return result is not None


@shared_task(name="usage_monitoring.evaluate_wallet", acks_late=True)
def evaluate_wallet(wallet_id: str) -> int:
    """Check one wallet's balance alerts (safe twice: a fired threshold re-arms only above it)."""
    return len(evaluation.wallet_alerts_evaluate(wallet_id))


@shared_task(name="usage_monitoring.sweep")
def sweep() -> int:
    """Every minute: subscriptions marked by ingestion but not evaluated since (a lost task), and
    the wallets that have balance alerts."""
    due = [(str(org), ext) for org, ext in evaluation.activities_due()]
    wallets = [str(w) for w in evaluation.wallets_with_alerts()]

    def fan_out() -> None:
        for organization_id, external_id in due:
            evaluate_subscription.delay(organization_id, external_id)
        for wallet_id in wallets:
            evaluate_wallet.delay(wallet_id)

    transaction.on_commit(fan_out)
    return len(due)
