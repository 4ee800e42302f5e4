"""Celery tasks of credits (wallets, credit notes). Each takes ids, calls services, is safe to run twice.

Registered through `invoicing.tasks` (which imports this module)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="invoicing.credit_note_generate_pdf")
def credit_note_generate_pdf(credit_note_id: str) -> bool:
    from invoicing.credits.services.documents import credit_note_generate_pdf as generate

    return generate(credit_note_id) is not None


@shared_task(name="invoicing.wallets_sweep")
def wallets_sweep() -> dict[str, int]:
    """Hourly: expired wallets terminated, recurring top-ups, ongoing balances refreshed."""
    from invoicing.credits.services import wallet_rules, wallets

    terminated = wallets.wallets_terminate_expired()
    topped_up = wallet_rules.wallets_recurring_top_up()
    refreshed = wallets.wallets_refresh_ongoing_balances()
    return {"terminated": len(terminated), "topped_up": len(topped_up), "refreshed": refreshed}


@shared_task(name="invoicing.credit_note_for_termination")
def credit_note_for_termination(subscription_id: str) -> str | None:
    """The unused days of a terminated in-advance subscription become a credit note (once)."""
    from invoicing.credits.services.credit_notes import credit_note_create_for_termination
    from subscriptions.models import Subscription

    subscription = Subscription.objects.select_related("plan", "customer").filter(id=subscription_id).first()
    if subscription is None or subscription.terminated_at is None:
        return None
    note = credit_note_create_for_termination(subscription)
    return str(note.id) if note else None
