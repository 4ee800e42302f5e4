"""The billing run: one path, for a batch of customers and for one customer (a batch of one).

    customers_bill(customer_ids, *, at=None, now=None, subscription_ids=None) -> BatchOutcome
    customer_bill(customer_id, *, at=None, now=None, subscription_ids=None) -> [Invoice]
    rebuild_invoice_fees(invoice) -> None           (a draft's fees again, before finalization)

One transaction per call (the sweep fans out batches of `runs.BATCH_SIZE` customers; a termination,
a plan change, a preview or a hand-run bills one customer the same way):

1. lock every customer (`SELECT … FOR UPDATE`, in id order, so overlapping batches never
   deadlock), then read their subscriptions, what was billed already (cursors), their own taxes,
   whether they have credits to apply, and the catalog of their plans (`snapshot.catalog_snapshot`),
   a few queries for the whole batch; what is due per subscription is pure (`due.due_items`);
2. customers with an active applied coupon, an available credit note, an active wallet or a
   progressive-billing period are billed one by one, each in its own savepoint, through
   `lifecycle.finalize_in_place` / `save_draft` (coupons, credits and wallets applied), after the
   bulk write of the others (most customers have none);
3. for the others, usage of every (subscription, charge, window) is read in bulk
   (`metering.bulk.aggregate_many`: the same answer as `aggregate()`), fees priced by the same
   `fees.item_fees`, taxes and totals by the same `totals.compute` (§6.1) — customer by customer:
   a customer whose data makes that fail is recorded as failed and the others go on;
4. numbers and bulk inserts in one savepoint (`writer.write`). If it fails (a period billed
   meanwhile by a path that does not take the customer lock, a row the database refuses), the
   savepoint is rolled back and those customers are billed one by one as in step 2, each in its
   own savepoint: one customer's failure never loses the others' work.

Exactly once: the unique constraint of `InvoiceSubscription` is the key of a due item, so a period
is invoiced once whatever happens (a rerun after a crash, two workers racing).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from billing_project.core.bulk import new_row
from catalog.models import AppliedCoupon, CouponStatus, CustomerTax, Plan, Tax
from customers.models import BillingEntity, Customer, Organization
from customers.section_choice import invoice_sections
from invoicing.billing import writer
from invoicing.billing.due import DueItem, due_items, item_from_row
from invoicing.billing.fees import fee_taxes, item_fees, usage_key
from invoicing.billing.fixed_charges import UnitsChange, units_changes
from invoicing.billing.pricing import usage_request
from invoicing.billing.snapshot import CatalogSnapshot, catalog_snapshot
from invoicing.billing.sweep import cursors, due_subscriptions
from invoicing.calculation import Context
from invoicing.credits.models import CreditNote, CreditStatus, Wallet, WalletStatus
from invoicing.models import (
    Fee,
    FeeAppliedTax,
    Invoice,
    InvoiceStatus,
    InvoiceSubscription,
    InvoiceType,
    PaymentStatus,
)
from invoicing.services import lifecycle
from invoicing.services import totals as totals_mod
from invoicing.services.taxes import TaxResolver
from metering.bulk import UsageRequest, aggregate_many
from subscriptions import periods
from subscriptions.models import Subscription
from subscriptions.selectors import ChainStarts, schedule_for

logger = logging.getLogger(__name__)


class InvoiceKey(NamedTuple):
    """What one invoice of a billing run holds: a customer's due items of one local billing day in
    one currency (a subscription's currency is its plan's; docs/billing-semantics.md §6.9), billed
    by one entity (the subscription's `billing_entity`, else the customer's: the id as text, `""`
    for a customer row without one) under one purchase order number (docs/billing-entities.md §3)."""

    day: dt.date
    currency: str
    billing_entity: str
    purchase_order_number: str


def invoice_key(sub: Subscription, customer: Customer, day: dt.date) -> InvoiceKey:
    entity = sub.billing_entity_id or customer.billing_entity_id
    return InvoiceKey(day, sub.plan.amount_currency, str(entity) if entity else "", sub.purchase_order_number)


DayItems = dict[InvoiceKey, list[tuple[DueItem, periods.Schedule]]]


@dataclass
class BatchOutcome:
    """Per customer: the invoices created (an empty list when nothing was due), or the failure."""

    invoices: dict[Any, list[Invoice]] = field(default_factory=dict)
    failures: dict[Any, BaseException] = field(default_factory=dict)

    @property
    def invoices_created(self) -> int:
        return sum(len(v) for v in self.invoices.values())


@dataclass(frozen=True)
class Inputs:
    """What one batch read under its customer locks, passed to every step (nothing is kept after)."""

    catalog: CatalogSnapshot
    customer_taxes: dict[Any, list[Tax]]
    progressive: frozenset[Any]  # subscriptions with a progressive-billing period
    now: dt.datetime
    starts: ChainStarts  # the subscription chains' initial starts, read once for the batch
    # the fixed charge quantities of the batch's subscriptions (`fixed_charges.units_changes`)
    fixed_units: Mapping[tuple[Any, Any], list[UnitsChange]] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerDue:
    """A customer's due items by invoice (local billing day and currency); `alone`: billed through
    the per-invoice writes (credits to apply, or a progressive-billing period to deduct)."""

    customer: Customer
    days: DayItems
    alone: bool


def customer_bill(
    customer_id: UUID | str,
    *,
    at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    subscription_ids: list[Any] | None = None,
) -> list[Invoice]:
    """Bill everything due for one customer up to `at`: one invoice per local billing day and
    currency; a batch of
    one (`customers_bill`). A failure is raised (nothing of this customer is written).
    `subscription_ids`: bill only these subscriptions of the customer (a termination, plan change
    or start billed at once, `subscriptions_bill_now`); the others wait for the sweep."""
    outcome = customers_bill([customer_id], at=at, now=now, subscription_ids=subscription_ids)
    for key, error in outcome.failures.items():
        if str(key) == str(customer_id):
            raise error
    return next((invoices for key, invoices in outcome.invoices.items() if str(key) == str(customer_id)), [])


def customers_bill(
    customer_ids: list[Any],
    *,
    at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    subscription_ids: list[Any] | None = None,
) -> BatchOutcome:
    """Bill everything due up to `at` for a batch of customers (one transaction, see the module)."""
    at = at or timezone.now()
    now = now or timezone.now()
    outcome = BatchOutcome()
    with transaction.atomic():
        customers = list(
            Customer.objects.select_for_update(of=("self",)).filter(id__any=list(customer_ids)).order_by("id")
        )
        if not customers:
            return outcome
        _load_parents(customers)
        dues, inputs = _read(customers, at, now=now, subscription_ids=subscription_ids, outcome=outcome)
        bulk = [due for due in dues if not due.alone]
        if bulk:
            built = _build_all(bulk, inputs, outcome)
            try:
                with transaction.atomic():
                    writer.write(built)
            except (IntegrityError, DatabaseError) as exc:
                logger.warning("billing batch: bulk write failed (%r); billing its customers one by one", exc)
                for due in bulk:
                    outcome.invoices.pop(due.customer.id, None)
                    if due.customer.id not in outcome.failures:
                        _bill_again_alone(due.customer, at, inputs, subscription_ids, outcome)
        # After the bulk write: the organization's number counter, which finalizing takes, is then
        # held only from here to the commit.
        for due in dues:
            if due.alone:
                _bill_alone(due, inputs, outcome)
    return outcome


# --- 1: what is due, read once for the batch -------------------------------------------------------


def _load_parents(customers: list[Customer]) -> None:
    """The customers' organizations and billing entities (their timezone, net payment term, grace
    period and zero-amount setting govern the invoices: `Customer.settings_source`), loaded on them:
    one read each for the batch, each row once, instead of joined into every customer row."""
    organizations = Organization.objects.in_bulk({c.organization_id for c in customers})
    entity_ids = {c.billing_entity_id for c in customers if c.billing_entity_id is not None}
    entities = BillingEntity.objects.defer("logo").in_bulk(entity_ids) if entity_ids else {}
    for customer in customers:
        customer.organization = organizations[customer.organization_id]
        customer.billing_entity = entities[customer.billing_entity_id] if customer.billing_entity_id else None


def _read(
    customers: list[Customer],
    at: dt.datetime,
    *,
    now: dt.datetime,
    subscription_ids: list[Any] | None,
    outcome: BatchOutcome,
) -> tuple[list[CustomerDue], Inputs]:
    ids = [c.id for c in customers]
    by_id = {c.id: c for c in customers}
    subs = _subscriptions(by_id, at, subscription_ids)
    progressive: set[Any] = set()
    last, starting = cursors([s.id for s in subs], progressive) if subs else ({}, set())
    with_credits = _with_credits(ids) if subs else set()
    plans = {sub.plan_id: sub.plan for sub in subs}
    catalog = catalog_snapshot(plans.values(), {c.organization_id for c in customers})
    inputs = Inputs(
        catalog=catalog,
        customer_taxes=_customer_taxes(ids) if subs else {},
        progressive=frozenset(progressive),
        now=now,
        starts=ChainStarts(),
        fixed_units=units_changes([s.id for s in subs if catalog.plan(s.plan_id).fixed_charges]),
    )
    subs_of: dict[Any, list[Subscription]] = defaultdict(list)
    for sub in subs:
        subs_of[sub.customer_id].append(sub)
    dues: list[CustomerDue] = []
    for customer in customers:
        mine = subs_of.get(customer.id, [])
        try:
            days: DayItems = defaultdict(list)
            tz_name = customer.applicable_timezone
            for sub in mine:
                sub.customer = by_id[sub.customer_id]
                schedule = schedule_for(sub)
                if schedule is None:
                    continue
                due = due_items(
                    sub,
                    schedule,
                    at,
                    cursor=last.get(sub.id),
                    starting_billed=sub.id in starting,
                    advance_fixed_charges=inputs.catalog.plan(sub.plan_id).has_advance_fixed_charges,
                )
                for item in due:
                    days[invoice_key(sub, customer, periods.local_date(item.timestamp, tz_name))].append(
                        (item, schedule)
                    )
        except Exception as exc:  # noqa: BLE001 - bad data of one customer
            outcome.failures[customer.id] = exc
            continue
        if not days:
            outcome.invoices[customer.id] = []
            continue
        alone = customer.id in with_credits or any(s.id in progressive for s in mine)
        dues.append(CustomerDue(customer=customer, days=days, alone=alone))
    # The chains' initial starts, for the plans with a recurring metric (their values carry across
    # plan changes, `pricing.usage_started_at`): one query per batch, none without such a plan.
    inputs.starts.read(
        item.subscription
        for due in dues
        for items in due.days.values()
        for item, _ in items
        if inputs.catalog.plan(item.subscription.plan_id).has_recurring_metric
    )
    return dues, inputs


def _subscriptions(
    customers: dict[Any, Customer], at: dt.datetime, subscription_ids: list[Any] | None
) -> list[Subscription]:
    """The customers' subscriptions that may be due, with their plan (read once per plan, not joined
    into every row) and organization (the customer's, read with it) loaded."""
    qs = Subscription.objects.filter(customer_id__any=list(customers))
    if subscription_ids is not None:
        qs = qs.filter(id__any=list(subscription_ids))
    subs = list(qs.filter(due_subscriptions(at)).exclude(started_at__isnull=True).order_by("started_at", "id"))
    plans = Plan._base_manager.in_bulk({sub.plan_id for sub in subs}) if subs else {}
    for sub in subs:
        sub.plan = plans[sub.plan_id]
        sub.organization = customers[sub.customer_id].organization
    return subs


def _with_credits(customer_ids: list[Any]) -> set[Any]:
    """Customers with something finalization applies: an active applied coupon, an available credit
    note with a balance, an active wallet. One query."""
    coupons = (
        AppliedCoupon.objects.filter(customer_id__any=customer_ids, status=CouponStatus.ACTIVE)
        .values("customer_id")
        .order_by()
    )
    notes = (
        CreditNote.objects.filter(
            customer_id__any=customer_ids, credit_status=CreditStatus.AVAILABLE, balance_amount_cents__gt=0
        )
        .values("customer_id")
        .order_by()
    )
    wallets = (
        Wallet.objects.filter(customer_id__any=customer_ids, status=WalletStatus.ACTIVE)
        .values("customer_id")
        .order_by()
    )
    return {row["customer_id"] for row in coupons.union(notes, wallets)}


def _customer_taxes(customer_ids: list[Any]) -> dict[Any, list[Tax]]:
    """Each customer's own taxes, in the order `TaxResolver.fallback` reads them."""
    result: dict[Any, list[Tax]] = {cid: [] for cid in customer_ids}
    links = (
        CustomerTax.objects.filter(customer_id__any=customer_ids)
        .select_related("tax")
        .order_by("created_at", "tax__code")
    )
    for link in links:
        result[link.customer_id].append(link.tax)
    return result


def _resolver(customer: Customer, inputs: Inputs) -> TaxResolver:
    catalog = inputs.catalog
    return TaxResolver(
        customer.organization,
        customer,
        organization_taxes=list(catalog.organization_taxes.get(customer.organization_id, ())),
        customer_taxes=inputs.customer_taxes.get(customer.id, []),
        owner_taxes=catalog.owner_taxes,
    )


def _invoice(customer: Customer, key: InvoiceKey, items: list[tuple[DueItem, periods.Schedule]]) -> Invoice:
    """The invoice of one key; its sections follow what its subscriptions chose (Lago's rule,
    `customers.section_choice.invoice_sections`), its dates the customer's settings (§6.8)."""
    chosen = invoice_sections(
        list({item.subscription.id: item.subscription.section_choice for item, _ in items}.values())
    )
    return lifecycle.invoice_new(
        customer.organization,
        customer,
        InvoiceType.SUBSCRIPTION,
        key.currency,
        key.day,
        billing_entity_id=UUID(key.billing_entity) if key.billing_entity else None,
        purchase_order_number=key.purchase_order_number,
        **chosen.fields(),
    )


def period_row(organization: Organization, invoice: Invoice, item: DueItem) -> InvoiceSubscription:
    """The invoice's billing-period row of one due item (unsaved)."""
    return new_row(
        InvoiceSubscription,
        organization=organization,
        invoice=invoice,
        subscription=item.subscription,
        invoicing_reason=item.reason,
        timestamp=item.timestamp,
        from_datetime=item.service.start,
        to_datetime=item.service.end,
        charges_from_datetime=item.charges.start,
        charges_to_datetime=item.charges.end,
    )


def _fees_and_periods(
    invoice: Invoice,
    items: list[tuple[DueItem, periods.Schedule]],
    inputs: Inputs,
    usage: dict[tuple, Any] | None = None,
) -> tuple[list[Fee], list[InvoiceSubscription]]:
    catalog = inputs.catalog
    fees: list[Fee] = []
    rows: list[InvoiceSubscription] = []
    for item, schedule in items:
        row = period_row(invoice.organization, invoice, item)
        rows.append(row)
        plan = catalog.plan(item.subscription.plan_id)
        fees_of_item = item_fees(
            item,
            plan=plan,
            schedule=schedule,
            currency=invoice.currency,
            starts=inputs.starts,
            usage=usage,
            fixed_units=inputs.fixed_units,
        )
        for fee in fees_of_item:
            fee.invoice_subscription = row
            fees.append(fee)
    return fees, rows


# --- 2: one by one, through finalization (credits, coupons, wallets, progressive credits) ------------


def _bill_alone(due: CustomerDue, inputs: Inputs, outcome: BatchOutcome) -> None:
    """One customer's invoices in its own savepoint; a failure stays with this customer."""
    customer = due.customer
    try:
        with transaction.atomic():
            resolver = _resolver(customer, inputs)
            outcome.invoices[customer.id] = [
                _invoice_alone(customer, key, due.days[key], resolver, inputs) for key in sorted(due.days)
            ]
    except IntegrityError:
        outcome.invoices[customer.id] = []  # invoiced meanwhile by someone else: nothing left to do
    except Exception as exc:  # noqa: BLE001 - recorded on the run; the batch goes on
        outcome.invoices.pop(customer.id, None)
        outcome.failures[customer.id] = exc


def _bill_again_alone(
    customer: Customer, at: dt.datetime, inputs: Inputs, subscription_ids: list[Any] | None, outcome: BatchOutcome
) -> None:
    """After a failed bulk write: what is due for this customer read again (a period may have been
    billed meanwhile by a path that ignores the lock), then billed alone."""
    try:
        dues, fresh = _read([customer], at, now=inputs.now, subscription_ids=subscription_ids, outcome=outcome)
    except Exception as exc:  # noqa: BLE001 - recorded on the run; the batch goes on
        outcome.failures[customer.id] = exc
        return
    for due in dues:
        _bill_alone(due, fresh, outcome)


def _invoice_alone(
    customer: Customer,
    key: InvoiceKey,
    items: list[tuple[DueItem, periods.Schedule]],
    resolver: TaxResolver,
    inputs: Inputs,
) -> Invoice:
    invoice = _invoice(customer, key, items)
    fees, rows = _fees_and_periods(invoice, items, inputs)
    taxes, plan_ids = fee_taxes(fees, resolver)
    grace = customer.applicable_invoice_grace_period
    if grace > 0:
        invoice.finalize_at = max(item.timestamp for item, _ in items) + dt.timedelta(days=grace)
        lifecycle.save_draft(invoice, fees, taxes, plan_ids=plan_ids, periods=rows, progressive=inputs.progressive)
        lifecycle.send_invoice_webhook(invoice, "invoice.drafted")
    else:
        lifecycle.finalize_in_place(
            invoice, fees, taxes, now=inputs.now, plan_ids=plan_ids, periods=rows, progressive=inputs.progressive
        )
    return invoice


# --- 3: usage in bulk, fees and totals in memory ----------------------------------------------------


def _usage(bulk: list[CustomerDue], catalog: CatalogSnapshot, starts: ChainStarts) -> dict[tuple, Any]:
    """Every bulk-answerable (subscription, charge, window) of the batch, read together."""
    requests: dict[Any, list[tuple[tuple, UsageRequest]]] = defaultdict(list)
    organizations: dict[Any, Organization] = {}
    for due in bulk:
        organizations[due.customer.organization_id] = due.customer.organization
        for items in due.days.values():
            for item, _ in items:
                window = item.usage_window
                if window.end <= window.start:
                    continue
                for charge in catalog.plan(item.subscription.plan_id).charges:
                    if charge.charge.pay_in_advance:
                        continue
                    request = usage_request(item.subscription, charge, window, starts)
                    if request is not None:
                        requests[due.customer.organization_id].append((usage_key(item, charge), request))
    usage: dict[tuple, Any] = {}
    for organization_id, pairs in requests.items():
        answers = aggregate_many(organizations[organization_id], [r for _, r in pairs])
        usage.update(zip((k for k, _ in pairs), answers, strict=True))
    return usage


def _build_all(bulk: list[CustomerDue], inputs: Inputs, outcome: BatchOutcome) -> list[writer.Built]:
    usage = _usage(bulk, inputs.catalog, inputs.starts)
    built: list[writer.Built] = []
    for due in bulk:
        customer = due.customer
        resolver = _resolver(customer, inputs)
        try:
            mine = [_build(customer, key, due.days[key], resolver, inputs, usage) for key in sorted(due.days)]
        except Exception as exc:  # noqa: BLE001 - bad data of one customer: recorded, the batch goes on
            outcome.failures[customer.id] = exc
            continue
        built.extend(mine)
        outcome.invoices[customer.id] = [b.invoice for b in mine]
    return built


def _build(
    customer: Customer,
    key: InvoiceKey,
    items: list[tuple[DueItem, periods.Schedule]],
    resolver: TaxResolver,
    inputs: Inputs,
    usage: dict[tuple, Any],
) -> writer.Built:
    """An invoice in memory, finalized (no credits: the customer has none) or a draft."""
    invoice = _invoice(customer, key, items)
    fees, rows = _fees_and_periods(invoice, items, inputs, usage)
    for fee in fees:
        fee.invoice = invoice
    taxes, plan_ids = fee_taxes(fees, resolver)
    grace = customer.applicable_invoice_grace_period
    if grace > 0:  # a draft until the grace period ends (`lifecycle.save_draft`): taxes, no credits, no number
        invoice.finalize_at = max(item.timestamp for item, _ in items) + dt.timedelta(days=grace)
        computed = totals_mod.compute(
            invoice, fees, taxes, context=Context.DRAFT, plan_ids=plan_ids, progressive=inputs.progressive
        )
        invoice.status = InvoiceStatus.DRAFT
        invoice.number = lifecycle.draft_number(customer.organization)
        invoice.payment_status = PaymentStatus.PENDING
        return writer.Built(invoice=invoice, fees=fees, periods=rows, computed=computed)
    computed = totals_mod.compute(
        invoice,
        fees,
        taxes,
        context=Context.FINALIZE,
        plan_ids=plan_ids,
        with_credits=False,
        progressive=inputs.progressive,
    )
    totals = computed.totals
    invoice.payment_status = PaymentStatus.PENDING if totals.total_amount_cents > 0 else PaymentStatus.SUCCEEDED
    invoice.finalized_at = inputs.now
    invoice.finalize_at = None
    if totals.fees_amount_cents == 0 and lifecycle.skip_zero_amount(customer):
        invoice.status = InvoiceStatus.CLOSED
    else:
        invoice.status = InvoiceStatus.FINALIZED
    return writer.Built(invoice=invoice, fees=fees, periods=rows, computed=computed)


# --- a draft's fees again ----------------------------------------------------------------------------


def rebuild_invoice_fees(invoice: Invoice) -> None:
    """A draft's fees again from its billing periods (refresh, and before finalization)."""
    if invoice.invoice_type != InvoiceType.SUBSCRIPTION or invoice.status != InvoiceStatus.DRAFT:
        return
    rows = list(invoice.invoice_subscriptions.select_related("subscription__plan", "subscription__organization"))
    if not rows:
        return
    Fee.objects.filter(invoice=invoice).delete()
    catalog = catalog_snapshot({row.subscription.plan_id: row.subscription.plan for row in rows}.values(), ())
    resolver = TaxResolver(invoice.organization, invoice.customer, owner_taxes=catalog.owner_taxes)
    starts = ChainStarts()
    fees: list[Fee] = []
    for row in rows:
        sub = row.subscription
        schedule = schedule_for(sub)
        if schedule is None:
            continue
        item = item_from_row(row, schedule)
        plan = catalog.plan(sub.plan_id)
        for fee in item_fees(item, plan=plan, schedule=schedule, currency=invoice.currency, starts=starts):
            fee.invoice = invoice
            fee.invoice_subscription = row
            fees.append(fee)
    taxes, _ = fee_taxes(fees, resolver)
    Fee.objects.bulk_create(fees)
    FeeAppliedTax.objects.bulk_create(
        [
            FeeAppliedTax(
                organization_id=invoice.organization_id,
                fee=fee,
                tax_id=snap.tax_id,
                tax_code=snap.rate.code,
                tax_name=snap.rate.name,
                tax_rate=snap.rate.rate,
                tax_description=snap.rate.description,
                currency=invoice.currency,
            )
            for fee in fees
            for snap in taxes[fee.id]
        ]
    )
