"""Celery tasks of invoicing. Each takes ids, calls one service, and is safe to run twice."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.utils import timezone

from invoicing.billing import runs
from invoicing.credits import tasks as credit_tasks  # wallets and credit notes tasks, registered with the app
from invoicing.services import lifecycle
from invoicing.services.documents import invoice_generate_pdf as generate_pdf
from invoicing.services.documents import invoices_generate_pdfs as generate_pdfs


def _at(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else timezone.now()


@shared_task(name="invoicing.billing_sweep")
def billing_sweep(at: str | None = None) -> int:
    """Hourly: find the customers with something due in their timezone, one task per batch of them
    (after the commit), and the run's watchdog."""
    return runs.billing_run_launch(_at(at), trigger="beat").customers_due


@shared_task(name="invoicing.bill_customers", acks_late=True)
def bill_customers(
    customer_ids: list[str], at: str | None = None, run_id: str | None = None, batch_id: str | None = None
) -> int:
    """A batch of customers, set-based, in one transaction with the batch's report (safe to run twice:
    a reported batch is skipped, and the customer locks and the unique billing-period constraint
    leave nothing to bill the second time)."""
    return runs.billing_run_batch(run_id, customer_ids, at=_at(at), batch_id=batch_id)


@shared_task(name="invoicing.bill_customer", acks_late=True)
def bill_customer(customer_id: str, at: str | None = None, run_id: str | None = None) -> int:
    """One customer (kept for tasks already queued, and for billing a customer by hand)."""
    return len(runs.billing_run_customer(run_id, customer_id, at=_at(at)))


@shared_task(name="invoicing.bill_subscriptions", acks_late=True)
def bill_subscriptions(subscription_ids: list[str], reason: str = "") -> int:
    """Right after a termination, a plan change or an in-advance start (enqueued on commit by
    `invoicing.receivers`): bill exactly these subscriptions now. Safe to run twice and to race
    the sweep (customer lock, unique billing period)."""
    from invoicing.services.immediate import subscriptions_bill_now

    return len(subscriptions_bill_now(subscription_ids, reason=reason))


@shared_task(name="invoicing.bill_fixed_charge_increase", acks_late=True)
def bill_fixed_charge_increase(subscription_id: str, fixed_charge_id: str, at: str) -> bool:
    from invoicing.services.fixed_charges import fixed_charge_increase_bill

    return fixed_charge_increase_bill(subscription_id, fixed_charge_id, at=_at(at)) is not None


@shared_task(name="invoicing.finish_run")
def finish_run(run_id: str, seen: int = -1, checks: int = 0) -> str:
    """The run's watchdog: closes it, waits, or sends its missing batches again (`runs.billing_run_check`)."""
    return runs.billing_run_check(run_id, seen=seen, checks=checks)


@shared_task(name="invoicing.finalize_drafts_sweep")
def finalize_drafts_sweep() -> int:
    """Drafts whose grace period ended are finalized (refreshed first)."""
    due = lifecycle.invoices_finalize_due()
    for invoice_id, _ in due:
        finalize_draft.delay(str(invoice_id))
    return len(due)


@shared_task(name="invoicing.finalize_draft")
def finalize_draft(invoice_id: str) -> bool:
    return lifecycle.invoice_finalize_if_due(invoice_id) is not None


@shared_task(name="invoicing.mark_overdue")
def mark_overdue() -> int:
    return lifecycle.invoices_mark_overdue()


@shared_task(name="invoicing.generate_pdf")
def invoice_generate_pdf(invoice_id: str) -> bool:
    return generate_pdf(invoice_id) is not None


@shared_task(name="invoicing.generate_pdfs", acks_late=True)
def invoices_generate_pdfs(invoice_ids: list[str]) -> int:
    """The PDFs of the invoices a billed batch finalized: one message for the batch (publishing one
    costs the billing task about 0.5 CPU-ms, bench/RESULTS.md "Invoice PDFs"); safe to run twice
    (a stored PDF is kept)."""
    return generate_pdfs(invoice_ids)


@shared_task(name="invoicing.pdfs_sweep")
def pdfs_sweep(grace_seconds: float | None = None) -> int:
    """Every 15 minutes: finalized invoices and credit notes whose PDF task was lost get one again
    (those issued in the last 10 minutes, or `grace_seconds`, are left to their own task)."""
    from datetime import timedelta

    from invoicing.services.documents import PDF_GRACE, documents_missing_pdf

    grace = PDF_GRACE if grace_seconds is None else timedelta(seconds=grace_seconds)
    missing = documents_missing_pdf(grace=grace)
    for invoice_id in missing.invoices:
        invoice_generate_pdf.delay(str(invoice_id))
    for note_id in missing.credit_notes:
        credit_tasks.credit_note_generate_pdf.delay(str(note_id))
    return len(missing)


@shared_task(name="invoicing.pay_in_advance_fees")
def pay_in_advance_fees(
    organization_id: str, external_subscription_ids: list[str], since: str | None = None, retry_failed: bool = False
) -> int:
    """Instant fees of the in-advance events of these subscriptions that have none yet (after
    ingestion: the last day's windows; from the reconciliation sweep: since `since`)."""
    from customers.models import Organization
    from invoicing.services.advance import pay_in_advance_fees as bill

    organization = Organization.objects.filter(id=organization_id).first()
    if organization is None:
        return 0
    fees = bill(
        organization,
        external_subscription_ids=external_subscription_ids,
        since=datetime.fromisoformat(since) if since else None,
        retry_failed=retry_failed,
    )
    return len(fees)


@shared_task(name="invoicing.pay_in_advance_reconcile_sweep")
def pay_in_advance_reconcile_sweep(at: str | None = None) -> int:
    """Every 10 minutes: subscriptions with an in-advance event that has no fee (and no recorded
    failure) in the lookback get a `pay_in_advance_fees` task (docs/invoicing.md §7)."""
    from invoicing.services.advance import pay_in_advance_reconcile_run

    return len(pay_in_advance_reconcile_run(_at(at)))


@shared_task(name="invoicing.regroup_paid_fees_sweep")
def regroup_paid_fees_sweep(at: str | None = None) -> int:
    """Hourly: customers with paid, uninvoiced fees of `regroup_paid_fees: "invoice"` charges."""
    from invoicing.services.advance import paid_fees_regroup_due

    moment = _at(at)
    ids = [str(customer_id) for customer_id in paid_fees_regroup_due(moment)]
    for customer_id in ids:
        regroup_paid_fees.delay(customer_id, moment.isoformat())
    return len(ids)


@shared_task(name="invoicing.regroup_paid_fees", acks_late=True)
def regroup_paid_fees(customer_id: str, at: str | None = None) -> int:
    from invoicing.services.advance import paid_fees_regroup

    return len(paid_fees_regroup(customer_id, at=_at(at)))
