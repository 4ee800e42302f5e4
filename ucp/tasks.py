"""UCP tasks: order-event deliveries and their retry sweep (docs/ucp.md, "Order events")."""

from __future__ import annotations

from celery import shared_task

from ucp.services import orders


@shared_task(name="ucp.deliver_order_event")
def deliver_order_event(event_id: str) -> bool:
    return orders.order_event_deliver(event_id).delivered_at is not None


@shared_task(name="ucp.order_events_sweep")
def order_events_sweep() -> int:
    """Deliveries due (first attempts lost, retries after a failure): one task each."""
    from ucp import idempotency

    due = orders.order_events_due()
    for event_id in due:
        deliver_order_event.delay(event_id)
    idempotency.purge()
    return len(due)


@shared_task(name="ucp.order_changed")
def order_changed(kind: str, object_id: str) -> int:
    if kind == "subscription":
        return orders.order_events_for_subscription(object_id)
    return orders.order_events_for_invoice(object_id)


@shared_task(name="ucp.invoices_finalized")
def invoices_finalized(invoice_ids: list[str]) -> int:
    return orders.order_events_for_invoices(invoice_ids)


@shared_task(name="ucp.send_order_confirmation")
def send_order_confirmation(checkout_id: str) -> bool:
    return orders.order_confirmation_email(checkout_id)
