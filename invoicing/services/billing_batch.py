"""The billing run, set-based: a batch of customers billed in one transaction and a handful of queries.

    customers_bill(customer_ids, *, at, now=None, run_key=None) -> BatchOutcome

What `billing.customer_bill` does for one customer, done for a batch (the sweep fans out batches
of `runs.BATCH_SIZE` customers):

1. lock every customer of the batch (`SELECT … FOR UPDATE`, in id order, so overlapping batches
   and single-customer billing never deadlock), then read their subscriptions, billed periods
   (cursors), own taxes, and whether they have anything that needs the per-customer path, in one
   query each;
2. customers with an active applied coupon, an available credit note, an active wallet or a
   progressive-billing period are billed by `customer_bill` itself, each in its own savepoint,
   after the bulk write of the others (most customers have none); customers with an invoice
   grace period get their drafts in bulk like the others (taxes, no credits, no number);
3. for the others, usage of every (subscription, charge, window) is read in bulk
   (`metering.bulk.aggregate_many`: one rollup query and the raw edges for the whole batch, the
   same answer as `aggregate()`), fees are priced by the same `item_fees` as one customer, taxes
   and totals by the same `totals.compute` (§6.1) — in Python, customer by customer: a customer
   whose data makes that fail is recorded as failed and the others go on;
4. in one savepoint: invoice numbers for all finalized invoices from the locked counters (one
   `UPDATE … RETURNING` for the customers' counters, one for the organization's; gapless because
   the counters stay locked until the commit), then bulk inserts of invoices, billing periods
   (the unique constraint on (subscription, reason, period) still guards every row), fees,
   applied taxes and audit entries; then the `invoice.created` webhooks (outbox), the
   `invoice_finalized` signal and the PDF tasks on commit.

If step 4 fails (a period billed meanwhile by a path that does not take the customer lock, or a
row the database refuses), its savepoint is rolled back and those customers are billed one by one
by `customer_bill` in their own savepoints: one customer's failure never loses the others' work.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing_project.core import metrics
from billing_project.core.signals import bulk_created
from catalog.models import AppliedCoupon, CouponStatus, CustomerTax
from customers.models import DocumentNumbering, Organization
from invoicing.calculation import Context
from invoicing.credits.models import CreditNote, CreditStatus, Wallet, WalletStatus
from invoicing.models import (
    Fee,
    FeeAppliedTax,
    Invoice,
    InvoiceAppliedTax,
    InvoiceNumberCounter,
    InvoiceStatus,
    InvoiceSubscription,
    InvoiceType,
    NumberingScope,
    PaymentStatus,
)
from invoicing.services import billing, lifecycle
from invoicing.services import fees as fee_builder
from invoicing.services import totals as totals_mod
from invoicing.services.taxes import TaxResolver
from invoicing.signals import invoice_finalized
from metering.bulk import UsageRequest, aggregate_many, handled_in_bulk
from subscriptions import periods
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.selectors import prime_initial_started_at, schedule_for

logger = logging.getLogger(__name__)
BULK_SIZE = 1000


@dataclass
class BatchOutcome:
    """Per customer: the invoices created (an empty list when nothing was due), or the failure."""

    invoices: dict[Any, list[Invoice]] = field(default_factory=dict)
    failures: dict[Any, BaseException] = field(default_factory=dict)

    @property
    def invoices_created(self) -> int:
        return sum(len(v) for v in self.invoices.values())


@dataclass
class _Built:
    invoice: Invoice
    fees: list[Fee]
    periods: list[InvoiceSubscription]
    computed: totals_mod.Computed


def customers_bill(
    customer_ids: list[Any],
    *,
    at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    run_key: str | None = None,
) -> BatchOutcome:
    """Bill everything due up to `at` for a batch of customers (one transaction, see the module)."""
    at = at or timezone.now()
    now = now or timezone.now()
    outcome = BatchOutcome()
    with transaction.atomic():
        customers = list(
            billing.Customer.objects.select_for_update(of=("self",))
            .select_related("organization")
            .filter(id__in=list(customer_ids))
            .order_by("id")
        )
        if not customers:
            return outcome
        cache = billing._cache_for(run_key) or {"key": None, "plans": {}, "org_taxes": {}}
        simple, single = _plan(customers, at, cache, outcome)
        if simple:
            built = _build_all(simple, now=now, cache=cache, outcome=outcome)
            try:
                with transaction.atomic():
                    _write(built, now=now)
            except (IntegrityError, DatabaseError) as exc:
                logger.warning("billing batch: bulk write failed (%r); billing its customers one by one", exc)
                for customer, _ in simple:
                    outcome.invoices.pop(customer.id, None)
                    if customer.id not in outcome.failures:
                        _bill_alone(customer.id, at=at, now=now, run_key=run_key, outcome=outcome)
        # After the bulk write: the organization's number counter, which finalizing takes, is then
        # held only from here to the commit.
        for customer in single:
            _bill_alone(customer.id, at=at, now=now, run_key=run_key, outcome=outcome)
    return outcome


def _bill_alone(
    customer_id: UUID | str, *, at: dt.datetime, now: dt.datetime, run_key: str | None, outcome: BatchOutcome
):
    """The per-customer path in its own savepoint; a failure stays with this customer."""
    try:
        outcome.invoices[customer_id] = billing.customer_bill(customer_id, at=at, now=now, run_key=run_key)
    except IntegrityError:
        outcome.invoices[customer_id] = []  # invoiced meanwhile by someone else: nothing left to do
    except Exception as exc:  # noqa: BLE001 - recorded on the run; the batch goes on
        outcome.failures[customer_id] = exc


# --- 1-2: what is due, and which path ---------------------------------------------------------------

DayItems = dict[dt.date, list[tuple[billing.DueItem, periods.Schedule]]]


def _plan(
    customers: list[Any], at: dt.datetime, cache: dict[str, Any], outcome: BatchOutcome
) -> tuple[list[tuple[Any, DayItems]], list[Any]]:
    ids = [c.id for c in customers]
    by_id = {c.id: c for c in customers}
    subs = list(
        Subscription.objects.filter(customer_id__in=ids)
        .filter(
            Q(status=SubscriptionStatus.ACTIVE)
            | Q(
                status=SubscriptionStatus.TERMINATED,
                terminated_at__gte=at - billing.TERMINATION_LOOKBACK,
                terminated_at__lte=at,
            )
        )
        .exclude(started_at__isnull=True)
        .select_related("plan", "organization")
        .order_by("started_at", "id")
    )
    progressive: set[Any] = set()
    cursors, starting = billing._cursors([s.id for s in subs], progressive) if subs else ({}, set())
    needs_single = _with_credits(ids)
    simple: list[tuple[Any, DayItems]] = []
    single: list[Any] = []
    subs_of: dict[Any, list[Subscription]] = defaultdict(list)
    for sub in subs:
        subs_of[sub.customer_id].append(sub)
    for customer in customers:
        mine = subs_of.get(customer.id, [])
        if not mine:
            outcome.invoices[customer.id] = []
            continue
        if customer.id in needs_single or any(s.id in progressive for s in mine):
            single.append(customer)
            continue
        try:
            by_day: DayItems = defaultdict(list)
            tz_name = customer.applicable_timezone
            for sub in mine:
                sub.customer = by_id[sub.customer_id]
                sub._progressive_billed = False
                billing._attach_plan_data(sub.plan, cache)
                schedule = schedule_for(sub)
                if schedule is None:
                    continue
                due = billing.due_items(
                    sub, schedule, at, cursor=cursors.get(sub.id), starting_billed=sub.id in starting
                )
                for item in due:
                    by_day[periods.local_date(item.timestamp, tz_name)].append((item, schedule))
        except Exception as exc:  # noqa: BLE001 - bad data of one customer
            outcome.failures[customer.id] = exc
            continue
        if by_day:
            simple.append((customer, by_day))
        else:
            outcome.invoices[customer.id] = []
    # The chains' initial starts, for the plans with a recurring metric (their values carry across
    # plan changes, `fees.usage_started_at`): one query per batch, none without such a plan.
    prime_initial_started_at(
        item.subscription
        for _, by_day in simple
        for items in by_day.values()
        for item, _ in items
        if any(c.billable_metric.recurring for c in billing._live_charges(item.subscription.plan))
    )
    return simple, single


def _with_credits(customer_ids: list[Any]) -> set[Any]:
    """Customers with something the per-customer path applies at finalization: an active applied
    coupon, an available credit note with a balance, an active wallet. One query."""
    coupons = (
        AppliedCoupon.objects.filter(customer_id__in=customer_ids, status=CouponStatus.ACTIVE)
        .values("customer_id")
        .order_by()
    )
    notes = (
        CreditNote.objects.filter(
            customer_id__in=customer_ids, credit_status=CreditStatus.AVAILABLE, balance_amount_cents__gt=0
        )
        .values("customer_id")
        .order_by()
    )
    wallets = (
        Wallet.objects.filter(customer_id__in=customer_ids, status=WalletStatus.ACTIVE).values("customer_id").order_by()
    )
    return {row["customer_id"] for row in coupons.union(notes, wallets)}


# --- 3: usage in bulk, fees and totals in Python -------------------------------------------------------


def _usage(simple: list[tuple[Any, DayItems]]) -> dict[tuple, Any]:
    """Every bulk-answerable (subscription, charge, window) of the batch, read together."""
    requests: dict[Any, list[tuple[tuple, UsageRequest]]] = defaultdict(list)
    organizations: dict[Any, Any] = {}
    for customer, by_day in simple:
        organizations[customer.organization_id] = customer.organization
        for items in by_day.values():
            for item, _ in items:
                if item.charges.end <= item.charges.start:
                    continue
                sub = item.subscription
                for charge in billing._live_charges(sub.plan):
                    if charge.pay_in_advance or fee_builder.is_prorated(charge):
                        continue
                    filters = fee_builder.live_charge_filters(charge)
                    request = UsageRequest(
                        external_subscription_id=sub.external_id,
                        metric=fee_builder.metric_spec_for(charge),
                        from_datetime=item.charges.start,
                        to_datetime=item.charges.end,
                        subscription_started_at=fee_builder.usage_started_at(sub, charge),
                        filters=tuple((f.id, f.values) for f in filters),
                        grouped_by=tuple(charge.pricing_group_keys or ()),
                        with_event_values=charge.charge_model == "percentage",
                    )
                    if handled_in_bulk(request):
                        requests[customer.organization_id].append((billing.usage_key(item, charge), request))
    usage: dict[tuple, Any] = {}
    for organization_id, pairs in requests.items():
        answers = aggregate_many(organizations[organization_id], [r for _, r in pairs])
        usage.update(zip((k for k, _ in pairs), answers, strict=True))
    return usage


def _customer_taxes(customer_ids: list[Any]) -> dict[Any, list[Any]]:
    """Each customer's own taxes, in the order `TaxResolver.fallback` reads them."""
    result: dict[Any, list[Any]] = {cid: [] for cid in customer_ids}
    links = (
        CustomerTax.objects.filter(customer_id__in=customer_ids)
        .select_related("tax")
        .order_by("created_at", "tax__code")
    )
    for link in links:
        result[link.customer_id].append(link.tax)
    return result


def _build_all(
    simple: list[tuple[Any, DayItems]], *, now: dt.datetime, cache: dict[str, Any], outcome: BatchOutcome
) -> list[_Built]:
    usage = _usage(simple)
    own_taxes = _customer_taxes([c.id for c, _ in simple])
    built: list[_Built] = []
    for customer, by_day in simple:
        org_taxes = billing._organization_taxes(customer.organization, cache)
        resolver = TaxResolver(
            customer.organization, customer, organization_taxes=org_taxes, customer_taxes=own_taxes[customer.id]
        )
        try:
            mine = [
                _build(customer, day, by_day[day], now=now, resolver=resolver, usage=usage) for day in sorted(by_day)
            ]
        except Exception as exc:  # noqa: BLE001 - bad data of one customer: recorded, the batch goes on
            outcome.failures[customer.id] = exc
            continue
        built.extend(mine)
        outcome.invoices[customer.id] = [b.invoice for b in mine]
    return built


def _build(
    customer: Any,
    day: dt.date,
    items: list[tuple[billing.DueItem, periods.Schedule]],
    *,
    now: dt.datetime,
    resolver: TaxResolver,
    usage: dict[tuple, Any],
) -> _Built:
    """`billing._create_subscription_invoice` without its writes (finalized at once, no credits)."""
    organization = customer.organization
    currency = billing._currency(customer, items)
    net_term = customer.applicable_net_payment_term
    invoice = Invoice(
        organization=organization,
        customer=customer,
        invoice_type=InvoiceType.SUBSCRIPTION,
        currency=currency,
        issuing_date=day,
        payment_due_date=day + dt.timedelta(days=net_term),
        net_payment_term=net_term,
    )
    fees: list[Fee] = []
    period_rows: list[InvoiceSubscription] = []
    for item, schedule in items:
        row = billing.period_row(organization, invoice, item)
        period_rows.append(row)
        for fee in billing.item_fees(item, schedule=schedule, currency=currency, usage=usage):
            fee.invoice_subscription = row
            fee.invoice = invoice
            fees.append(fee)
    taxes, plan_ids = billing._taxes_for(fees, resolver)
    grace = customer.applicable_invoice_grace_period
    if grace > 0:  # a draft until the grace period ends (`lifecycle.save_draft`): taxes, no credits, no number
        invoice.finalize_at = max(item.timestamp for item, _ in items) + dt.timedelta(days=grace)
        computed = totals_mod.compute(invoice, fees, taxes, context=Context.DRAFT, plan_ids=plan_ids)
        invoice.status = InvoiceStatus.DRAFT
        invoice.number = lifecycle.draft_number(organization)
        invoice.payment_status = PaymentStatus.PENDING
        return _Built(invoice=invoice, fees=fees, periods=period_rows, computed=computed)
    computed = totals_mod.compute(invoice, fees, taxes, context=Context.FINALIZE, plan_ids=plan_ids, with_credits=False)
    totals = computed.totals
    invoice.payment_status = PaymentStatus.PENDING if totals.total_amount_cents > 0 else PaymentStatus.SUCCEEDED
    invoice.finalized_at = now
    invoice.finalize_at = None
    if totals.fees_amount_cents == 0 and lifecycle.skip_zero_amount(customer):
        invoice.status = InvoiceStatus.CLOSED
    else:
        invoice.status = InvoiceStatus.FINALIZED
    return _Built(invoice=invoice, fees=fees, periods=period_rows, computed=computed)


# --- 4: numbers and bulk writes ------------------------------------------------------------------------


def _db_id(value: Any) -> Any:
    return value.hex if connection.vendor == "sqlite" else value


def _advance_customer_counters(organization: Organization, counts: Counter) -> dict[Any, int]:
    """Add `counts[customer]` to each customer's counter (created when missing); the new values.

    One `UPDATE … RETURNING` per distinct increment (nearly always one); the rows stay locked."""
    now = timezone.now()
    result: dict[Any, int] = {}
    by_increment: dict[int, list[Any]] = defaultdict(list)
    for customer_id, count in counts.items():
        by_increment[count].append(customer_id)
    for attempt in range(2):
        for increment, customer_ids in by_increment.items():
            pending = [cid for cid in customer_ids if cid not in result]
            if not pending:
                continue
            marks = ", ".join(["%s"] * len(pending))
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE invoicing_invoicenumbercounter SET last_value = last_value + %s, updated_at = %s "  # noqa: S608 - placeholders only
                    f"WHERE organization_id = %s AND customer_id IN ({marks}) RETURNING customer_id, last_value",
                    [increment, now, _db_id(organization.id), *[_db_id(cid) for cid in pending]],
                )
                for customer_id, last in cursor.fetchall():
                    result[_uuid(customer_id)] = int(last)
        missing = [cid for cid in counts if cid not in result]
        if not missing or attempt:
            break
        # First invoice of these customers: create their counters (a concurrent creation wins quietly).
        InvoiceNumberCounter.objects.bulk_create(
            [
                InvoiceNumberCounter(organization=organization, customer_id=cid, scope=NumberingScope.CUSTOMER)
                for cid in missing
            ],
            ignore_conflicts=True,
        )
    if len(result) != len(counts):  # pragma: no cover - the rows were just created
        raise RuntimeError("invoice number counter missing")
    return result


def _uuid(value: Any) -> Any:
    import uuid

    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _advance_organization_counter(organization: Organization, count: int) -> int:
    params = [count, timezone.now(), _db_id(organization.id)]
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE invoicing_invoicenumbercounter SET last_value = last_value + %s, updated_at = %s "
                "WHERE organization_id = %s AND customer_id IS NULL RETURNING last_value",
                params,
            )
            row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        try:
            with transaction.atomic():
                InvoiceNumberCounter.objects.create(
                    organization=organization, customer=None, scope=NumberingScope.ORGANIZATION
                )
        except IntegrityError:
            pass  # created concurrently; the UPDATE now waits for its lock
    raise RuntimeError("invoice number counter missing")  # pragma: no cover


def _number(invoices: list[Invoice]) -> None:
    """Gapless numbers for finalized invoices, per customer and per organization (as `assign_number`).

    The customers' counters are advanced first and the organization's last: the organization's row
    is the one every batch of the organization needs, so `_write` takes it just before its last
    inserts and holds it for as short a time as possible (until the commit)."""
    by_org: dict[Any, list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        by_org[invoice.organization_id].append(invoice)
    for org_invoices in by_org.values():
        organization = org_invoices[0].organization
        counts = Counter(inv.customer_id for inv in org_invoices)
        last = _advance_customer_counters(organization, counts)
        next_customer = {cid: last[cid] - n + 1 for cid, n in counts.items()}
        for invoice in org_invoices:
            invoice.sequential_id = next_customer[invoice.customer_id]
            next_customer[invoice.customer_id] += 1


def _number_in_organization(invoices: list[Invoice]) -> None:
    by_org: dict[Any, list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        by_org[invoice.organization_id].append(invoice)
    for org_invoices in by_org.values():
        organization = org_invoices[0].organization
        next_org = _advance_organization_counter(organization, len(org_invoices)) - len(org_invoices) + 1
        prefix = lifecycle.document_prefix(organization)
        per_org = organization.document_numbering == DocumentNumbering.PER_ORGANIZATION
        for invoice in org_invoices:
            invoice.organization_sequential_id = next_org
            next_org += 1
            if per_org:
                invoice.number = f"{prefix}-{invoice.issuing_date:%Y%m}-{invoice.organization_sequential_id:03d}"
            else:
                invoice.number = f"{prefix}-{invoice.customer.sequential_id:03d}-{invoice.sequential_id:03d}"


def _write(built: list[_Built], *, now: dt.datetime) -> None:
    """Numbers and bulk inserts. The rows that point to an invoice go first (foreign keys are checked
    at the commit), the organization's number counter and the invoices themselves last."""
    if not built:
        return
    invoices = [b.invoice for b in built]
    finalized = [inv for inv in invoices if inv.status == InvoiceStatus.FINALIZED]
    _number(finalized)
    # A period already invoiced violates the unique constraint here: the caller's savepoint rolls back.
    InvoiceSubscription.objects.bulk_create([row for b in built for row in b.periods], batch_size=BULK_SIZE)
    Fee.objects.bulk_create([fee for b in built for fee in b.fees], batch_size=BULK_SIZE)
    FeeAppliedTax.objects.bulk_create([t for b in built for t in b.computed.fee_taxes], batch_size=BULK_SIZE)
    InvoiceAppliedTax.objects.bulk_create([t for b in built for t in b.computed.invoice_taxes], batch_size=BULK_SIZE)
    _number_in_organization(finalized)
    Invoice.objects.bulk_create(invoices, batch_size=BULK_SIZE)
    bulk_created.send(sender=Invoice, instances=invoices)  # the audit trail, in one INSERT
    for invoice in invoices:
        invoice._state.adding = False
    _notify(finalized, [inv for inv in invoices if inv.status == InvoiceStatus.DRAFT])
    statuses = Counter(inv.status for inv in invoices if inv.status != InvoiceStatus.DRAFT)
    transaction.on_commit(lambda: [metrics.invoice_generated(status, n) for status, n in statuses.items()])


def _notify(finalized: list[Invoice], drafts: list[Invoice]) -> None:
    """`invoice.created` / `invoice.drafted` (outbox) when an endpoint wants them, the
    `invoice_finalized` signal (payments) and the PDF task of finalized invoices."""
    from webhooks.models import WebhookEndpoint

    wanted: dict[tuple[Any, str], bool] = {}

    def send(invoice: Invoice, webhook_type: str) -> None:
        key = (invoice.organization_id, webhook_type)
        if key not in wanted:
            endpoints = WebhookEndpoint.objects.filter(organization_id=key[0]).only("id", "event_types")
            wanted[key] = any(e.accepts(webhook_type) for e in endpoints)
        if wanted[key]:
            lifecycle.send_invoice_webhook(invoice, webhook_type)

    for invoice in finalized:
        send(invoice, "invoice.created")
        lifecycle.enqueue_pdf(invoice)
        invoice_finalized.send(sender=Invoice, invoice=invoice, organization=invoice.organization)
    for invoice in drafts:
        send(invoice, "invoice.drafted")
