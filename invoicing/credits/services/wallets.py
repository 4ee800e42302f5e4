"""Wallets and prepaid credits (docs/billing-semantics.md §7, docs/credits.md).

The ledger is `WalletTransaction` (append-only; a pending line settles or fails once). Every
change of a wallet's balance happens here, under a row lock on the wallet, in the same
transaction as the ledger line it comes from, so `balance_cents` / `credits_balance` always equal
the settled inbound lines minus the settled outbound lines (tested with hypothesis).

* granted credits settle at once; paid credits are a `credit` invoice and settle when that
  invoice's payment succeeds (`wallet_transactions_settle_for_invoice`, `wallet_transaction_settle`);
* voided credits leave at once; terminating a wallet (API delete, expiration) voids what is left;
* consumption at finalization (`wallets_for_invoice` / `wallets_consume`) and its restoration
  when the invoice is voided (`wallets_restore_for_voided_invoice`) live in `invoicing.credits.services.invoices`'s
  callers; recurring top-ups in `invoicing.credits.services.wallet_rules`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from billing_project.core.bulk import update_rows
from billing_project.core.errors import NotAllowedFailure, NotFoundFailure, ValidationFailure
from billing_project.core.found import first_with_id
from billing_project.core.inputs import UNSET
from billing_project.core.money import is_currency
from catalog.models import BillableMetric
from customers import services as customer_services
from customers.entities import billing_entity_get
from customers.models import Organization
from customers.payment_choice import PROVIDER_DEFAULT, PaymentMethodChoice, payment_method_choose
from customers.section_choice import NO_CHOICE, SectionChoice, invoice_sections, section_choice
from invoicing.calculation import WalletBalance
from invoicing.credits import tracing
from invoicing.credits.inputs import WalletCreate, WalletTransactionCreate, WalletUpdate
from invoicing.credits.models import (
    RecurringTransactionRule,
    TransactionSettlement,
    TransactionSource,
    TransactionStatus,
    TransactionType,
    Wallet,
    WalletStatus,
    WalletTransaction,
    WalletTransactionConsumption,
)
from invoicing.models import Fee, FeeType, Invoice, InvoiceType
from webhooks.services import webhook_send, webhook_send_row

MAX_ACTIVE_WALLETS = 5
ZERO = Decimal(0)


# ------------------------------------------------------------------------------------ arithmetic


def credits_to_cents(wallet: Wallet, credits: Decimal) -> int:
    return tracing.credits_to_cents(credits, rate_amount=wallet.rate_amount, currency=wallet.currency)


def cents_to_credits(wallet: Wallet, cents: int) -> Decimal:
    return tracing.cents_to_credits(cents, rate_amount=wallet.rate_amount, currency=wallet.currency)


# ------------------------------------------------------------------------------------ webhooks


def _send_transaction_webhook(tx: WalletTransaction, webhook_type: str) -> None:
    from invoicing.credits.representation import wallet_transaction_payload

    webhook_send(
        tx.wallet.organization,
        webhook_type=webhook_type,
        object_type="wallet_transaction",
        payload=lambda: wallet_transaction_payload(tx),
    )


def _send_wallet_webhook(wallet: Wallet, webhook_type: str) -> None:
    from invoicing.credits.representation import wallet_payload

    webhook_send_row(wallet, webhook_type, "wallet", wallet_payload)


# ------------------------------------------------------------------------------------ the ledger


def _locked_wallet(wallet_id: UUID | str) -> Wallet:
    return Wallet.objects.select_for_update(of=("self",)).select_related("organization", "customer").get(id=wallet_id)


def _apply_settled(
    wallet: Wallet, tx: WalletTransaction, now: dt.datetime, *, fund_from: WalletTransaction | None = None
) -> None:
    """Move a settled line into the (locked) wallet's balance."""
    if tx.transaction_type == TransactionType.INBOUND:
        wallet.balance_cents += tx.amount_cents
        wallet.credits_balance = Decimal(wallet.credits_balance) + Decimal(tx.credit_amount)
    else:
        wallet.balance_cents -= tx.amount_cents
        wallet.credits_balance = Decimal(wallet.credits_balance) - Decimal(tx.credit_amount)
        if tx.transaction_status == TransactionStatus.INVOICED:
            wallet.consumed_amount_cents += tx.amount_cents
            wallet.consumed_credits = Decimal(wallet.consumed_credits) + Decimal(tx.credit_amount)
            wallet.last_consumed_credit_at = now
    if wallet.balance_cents < 0 or wallet.credits_balance < 0:
        raise ValidationFailure.single("amount_cents", "insufficient_credits")
    if tx.transaction_type == TransactionType.OUTBOUND:
        _fund(wallet, tx, only=fund_from)
    _refresh_ongoing(wallet, now)
    wallet.save()


def _fund(wallet: Wallet, outbound: WalletTransaction, *, only: WalletTransaction | None = None) -> None:
    """Pair a settled outbound line with the inbound lines that fund it (`invoicing/credits/tracing.py`)
    and take the amounts off what they hold; the wallet is locked, so the inbounds are too. `only`:
    the one inbound line a void targets (`voided_transaction_id`)."""
    available = WalletTransaction.objects.filter(
        wallet=wallet,
        transaction_type=TransactionType.INBOUND,
        status=TransactionSettlement.SETTLED,
        remaining_amount_cents__gt=0,
    )
    if only is not None:
        available = available.filter(id=only.id)
    rows = available.values_list("id", "priority", "transaction_status", "created_at", "remaining_amount_cents")
    inbounds = [
        tracing.Inbound(id=i, priority=p, granted=s == TransactionStatus.GRANTED, created_at=c, remaining_cents=r or 0)
        for i, p, s, c, r in rows
    ]
    pairs = tracing.allocate(outbound.amount_cents, inbounds)
    if sum(cents for _, cents in pairs) != outbound.amount_cents:
        raise ValidationFailure.single("amount_cents", "insufficient_credits")
    WalletTransactionConsumption.objects.bulk_create(
        WalletTransactionConsumption(
            organization_id=wallet.organization_id, inbound_id=inbound_id, outbound=outbound, amount_cents=cents
        )
        for inbound_id, cents in pairs
    )
    for inbound_id, cents in pairs:  # audited like any bulk write (billing_project.core.bulk)
        update_rows(
            WalletTransaction.objects.filter(id=inbound_id),
            remaining_amount_cents=F("remaining_amount_cents") - cents,
            updated_at=timezone.now(),
        )


def _record(
    wallet: Wallet,
    *,
    transaction_type: str,
    transaction_status: str,
    credits: Decimal,
    cents: int | None = None,
    settle: bool,
    now: dt.datetime,
    source: str = TransactionSource.MANUAL,
    invoice: Invoice | None = None,
    voided_invoice: Invoice | None = None,
    name: str = "",
    metadata: list | None = None,
    idempotency_key: str = "",
    invoice_requires_successful_payment: bool = False,
    notify: bool = True,
    priority: int | None = None,
    fund_from: WalletTransaction | None = None,
    payment_method: PaymentMethodChoice = PROVIDER_DEFAULT,
    sections: SectionChoice = NO_CHOICE,
    purchase_order_number: str = "",
) -> WalletTransaction:
    amount_cents = credits_to_cents(wallet, credits) if cents is None else cents
    tx = WalletTransaction.objects.create(
        organization_id=wallet.organization_id,
        wallet=wallet,
        invoice=invoice,
        voided_invoice=voided_invoice,
        transaction_type=transaction_type,
        transaction_status=transaction_status,
        status=TransactionSettlement.SETTLED if settle else TransactionSettlement.PENDING,
        source=source,
        amount_cents=amount_cents,
        remaining_amount_cents=amount_cents if settle and transaction_type == TransactionType.INBOUND else None,
        credit_amount=credits,
        priority=wallet.priority if priority is None else priority,
        name=name or "",
        metadata=metadata or [],
        settled_at=now if settle else None,
        idempotency_key=idempotency_key,
        invoice_requires_successful_payment=invoice_requires_successful_payment,
        purchase_order_number=purchase_order_number,
        **payment_method.fields(),
        **sections.fields(),
    )
    if settle:
        _apply_settled(wallet, tx, now, fund_from=fund_from)
    if notify:
        _send_transaction_webhook(tx, "wallet_transaction.created")
    return tx


def _credit_invoice(wallet: Wallet, tx: WalletTransaction, now: dt.datetime) -> Invoice:
    """Paid credits are billed on a `credit` invoice (no tax, no coupon, no prepaid credits), by the
    wallet's entity (else the customer's), with the top-up's purchase order number (else the
    wallet's) and the sections the top-up chose, else the wallet's, else the customer's (Lago)."""
    from invoicing.services import lifecycle

    customer = wallet.customer
    today = lifecycle.local_today(customer, now)
    chosen = tx.section_choice if tx.skip_invoice_custom_sections or tx.invoice_custom_section_ids else None
    invoice = lifecycle.invoice_new(
        wallet.organization,
        customer,
        InvoiceType.CREDIT,
        wallet.currency,
        today,
        billing_entity_id=wallet.billing_entity_id,
        purchase_order_number=tx.purchase_order_number or wallet.purchase_order_number,
        **invoice_sections([chosen or wallet.section_choice]).fields(),
    )
    invoice.save()
    fee = Fee(
        organization_id=wallet.organization_id,
        customer=customer,
        fee_type=FeeType.CREDIT,
        invoice_display_name=tx.name or wallet.name or "Prepaid credits",
        currency=wallet.currency,
        units=tx.credit_amount,
        total_aggregated_units=tx.credit_amount,
        unit_amount_cents=credits_to_cents(wallet, Decimal(1)),
        precise_unit_amount=Decimal(wallet.rate_amount),
        amount_cents=tx.amount_cents,
        precise_amount_cents=Decimal(tx.amount_cents),
        properties={"wallet_transaction_id": str(tx.id)},
    )
    lifecycle.finalize_in_place(invoice, [fee], {}, now=now, plan_ids={})
    return invoice


# ------------------------------------------------------------------------------------ wallets


def _check_metric_codes(organization: Organization, codes: tuple[str, ...]) -> None:
    """The billable metrics a wallet applies to exist (404 `billable_metric_not_found`)."""
    if not codes:
        return
    found = set(
        BillableMetric.objects.filter(organization=organization, code__in=codes, deleted_at__isnull=True).values_list(
            "code", flat=True
        )
    )
    if set(codes) - found:
        raise NotFoundFailure("billable_metric")


def _check_expiration(expiration_at: dt.datetime | None, now: dt.datetime, errors: dict[str, list[str]]) -> None:
    if expiration_at is not None and expiration_at <= now:
        errors.setdefault("expiration_at", []).append("invalid_date")


def _check_top_up_limits(wallet: Wallet, paid: Decimal, errors: dict[str, list[str]]) -> None:
    if paid <= 0:
        return
    cents = credits_to_cents(wallet, paid)
    if wallet.paid_top_up_min_amount_cents is not None and cents < wallet.paid_top_up_min_amount_cents:
        errors.setdefault("paid_credits", []).append("amount_below_minimum")
    if wallet.paid_top_up_max_amount_cents is not None and cents > wallet.paid_top_up_max_amount_cents:
        errors.setdefault("paid_credits", []).append("amount_above_maximum")


def wallet_create(organization: Organization, fields: WalletCreate, *, now: dt.datetime | None = None) -> Wallet:
    """`POST /wallets`: a wallet and its initial paid and granted credits."""
    from invoicing.credits.services import wallet_rules
    from invoicing.services import lifecycle

    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    _check_metric_codes(organization, fields.applies_to.billable_metric_codes)
    _check_expiration(fields.expiration_at, now, errors)
    with transaction.atomic():
        customer = lifecycle.customer_locked(organization, fields.external_customer_id)
        currency = fields.currency or customer.currency or organization.default_currency
        if not is_currency(currency):
            errors.setdefault("currency", []).append("value_is_invalid")
        active = Wallet.objects.filter(customer=customer, status=WalletStatus.ACTIVE)
        if active.count() >= MAX_ACTIVE_WALLETS:
            errors.setdefault("customer", []).append("wallet_limit_reached")
        if fields.code and active.filter(code=fields.code).exists():
            errors.setdefault("code", []).append("value_already_exist")
        if errors:
            raise ValidationFailure(errors)
        choice = payment_method_choose(customer, fields.payment_method)
        entity = billing_entity_get(organization, fields.billing_entity_code) if fields.billing_entity_code else None
        sections = section_choice(organization, fields.invoice_custom_section)
        wallet = Wallet(
            billing_entity=entity,
            purchase_order_number=fields.purchase_order_number,
            **sections.fields(),
            organization=organization,
            customer=customer,
            name=fields.name,
            code=fields.code,
            currency=currency,
            rate_amount=fields.rate_amount,
            priority=fields.priority,
            expiration_at=fields.expiration_at,
            applies_to_fee_types=list(fields.applies_to.fee_types),
            applies_to_billable_metric_codes=list(fields.applies_to.billable_metric_codes),
            invoice_requires_successful_payment=fields.invoice_requires_successful_payment,
            metadata=dict(fields.metadata),
            paid_top_up_min_amount_cents=fields.paid_top_up_min_amount_cents,
            paid_top_up_max_amount_cents=fields.paid_top_up_max_amount_cents,
            **choice.fields(),
        )
        if not fields.ignore_paid_top_up_limits_on_creation:
            _check_top_up_limits(wallet, fields.paid_credits, errors)
        if errors:
            raise ValidationFailure(errors)
        customer_services.customer_default_currency_set(customer, currency)
        wallet.save()
        wallet_rules.rules_replace(wallet, fields.recurring_transaction_rules)
        _top_up(
            wallet,
            paid=fields.paid_credits,
            granted=fields.granted_credits,
            now=now,
            name=fields.transaction_name,
            priority=fields.transaction_priority,
            metadata=fields.transaction_metadata,
        )
        _send_wallet_webhook(wallet, "wallet.created")
    return wallet


def wallet_update(
    organization: Organization, *, wallet_id: UUID | str, fields: WalletUpdate, now: dt.datetime | None = None
) -> Wallet:
    """`PUT /wallets/{id}`: the fields sent change; rules sent replace the wallet's rules."""
    from invoicing.credits.services import wallet_rules

    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    with transaction.atomic():
        wallet = _get_locked(organization, wallet_id)
        if wallet.status != WalletStatus.ACTIVE:
            raise NotAllowedFailure("wallet_not_active")
        if fields.name is not UNSET:
            wallet.name = fields.name
        if fields.priority is not UNSET:
            wallet.priority = fields.priority
        if fields.expiration_at is not UNSET:
            _check_expiration(fields.expiration_at, now, errors)
            wallet.expiration_at = fields.expiration_at
        if fields.applies_to is not UNSET:
            _check_metric_codes(organization, fields.applies_to.billable_metric_codes)
            wallet.applies_to_fee_types = list(fields.applies_to.fee_types)
            wallet.applies_to_billable_metric_codes = list(fields.applies_to.billable_metric_codes)
        if fields.paid_top_up_min_amount_cents is not UNSET:
            wallet.paid_top_up_min_amount_cents = fields.paid_top_up_min_amount_cents
        if fields.paid_top_up_max_amount_cents is not UNSET:
            wallet.paid_top_up_max_amount_cents = fields.paid_top_up_max_amount_cents
        if fields.invoice_requires_successful_payment is not UNSET:
            wallet.invoice_requires_successful_payment = fields.invoice_requires_successful_payment
        if fields.metadata is not UNSET:
            wallet.metadata = dict(fields.metadata)
        if fields.billing_entity_code is not UNSET:  # "": the customer's entity again
            code = fields.billing_entity_code
            wallet.billing_entity = billing_entity_get(organization, code) if code else None
        if fields.purchase_order_number is not UNSET:
            wallet.purchase_order_number = fields.purchase_order_number
        sections = section_choice(organization, fields.invoice_custom_section, current=wallet.section_choice)
        for field, value in sections.fields().items():
            setattr(wallet, field, value)
        try:
            choice = payment_method_choose(wallet.customer, fields.payment_method, current=wallet.payment_method_choice)
            for field, value in choice.fields().items():
                setattr(wallet, field, value)
        except ValidationFailure as failure:
            errors.update(failure.details)  # type: ignore[arg-type]
        if errors:
            raise ValidationFailure(errors)
        wallet.save()
        if fields.recurring_transaction_rules is not UNSET:
            wallet_rules.rules_replace(wallet, fields.recurring_transaction_rules)
        _send_wallet_webhook(wallet, "wallet.updated")
    return wallet


def _get_locked(organization: Organization, wallet_id: UUID | str | None) -> Wallet:
    from invoicing.credits.selectors import wallet_get

    wallet = wallet_get(organization, wallet_id)
    return _locked_wallet(wallet.id)


def wallet_terminate(organization: Organization, *, wallet_id: UUID | str, now: dt.datetime | None = None) -> Wallet:
    """`DELETE /wallets/{id}` and expiration: `terminated`, the remaining credits voided."""
    now = now or timezone.now()
    with transaction.atomic():
        wallet = _get_locked(organization, wallet_id)
        _terminate(wallet, now)
    return wallet


def _void(wallet: Wallet, credits: Decimal, cents: int, now: dt.datetime) -> WalletTransaction:
    """A settled outbound line voiding `credits` (worth `cents`) of the wallet."""
    return _record(
        wallet,
        transaction_type=TransactionType.OUTBOUND,
        transaction_status=TransactionStatus.VOIDED,
        credits=credits,
        cents=cents,
        settle=True,
        now=now,
    )


def _terminate(wallet: Wallet, now: dt.datetime) -> None:
    if wallet.status == WalletStatus.TERMINATED:
        return
    if wallet.credits_balance > 0:
        _void(wallet, Decimal(wallet.credits_balance), wallet.balance_cents, now)
    wallet.status = WalletStatus.TERMINATED
    wallet.terminated_at = now
    wallet.save(update_fields=["status", "terminated_at", "updated_at"])
    RecurringTransactionRule.objects.filter(wallet=wallet).update(status="terminated")
    _send_wallet_webhook(wallet, "wallet.terminated")


def wallets_terminate_expired(now: dt.datetime | None = None, *, dry_run: bool = False) -> list[Any]:
    """The beat job: active wallets whose `expiration_at` has passed are terminated."""
    now = now or timezone.now()
    ids = list(Wallet.objects.filter(status=WalletStatus.ACTIVE, expiration_at__lte=now).values_list("id", flat=True))
    if dry_run:
        return ids
    for wallet_id in ids:
        with transaction.atomic():
            wallet = _locked_wallet(wallet_id)
            if wallet.status == WalletStatus.ACTIVE and wallet.expiration_at and wallet.expiration_at <= now:
                _terminate(wallet, now)
    return ids


# ------------------------------------------------------------------------------------ top-ups


def _top_up(
    wallet: Wallet,
    *,
    paid: Decimal,
    granted: Decimal,
    now: dt.datetime,
    voided: Decimal = ZERO,
    source: str = TransactionSource.MANUAL,
    name: str = "",
    metadata: list | None = None,
    idempotency_key: str = "",
    invoice_requires_successful_payment: bool | None = None,
    priority: int | None = None,
    void: VoidTarget | None = None,
    payment_method: PaymentMethodChoice = PROVIDER_DEFAULT,
    sections: SectionChoice = NO_CHOICE,
    purchase_order_number: str = "",
) -> list[WalletTransaction]:
    """Purchased (pending, with its credit invoice), granted (settled) and voided (settled) lines;
    `priority` is the lines' (default the wallet's), `void` the inbound line a void draws on,
    `payment_method` how the credit invoice of the purchase is collected (docs/payments.md §12)."""
    result: list[WalletTransaction] = []
    requires = (
        wallet.invoice_requires_successful_payment
        if invoice_requires_successful_payment is None
        else invoice_requires_successful_payment
    )
    # What the lines of one top-up share; each line adds its type, status, credits and settlement.
    line = partial(
        _record,
        wallet,
        now=now,
        source=source,
        name=name,
        metadata=metadata,
        priority=priority,
        payment_method=payment_method,
    )
    if paid > 0:
        tx = line(
            transaction_type=TransactionType.INBOUND,
            transaction_status=TransactionStatus.PURCHASED,
            credits=paid,
            settle=False,
            idempotency_key=f"{idempotency_key}:paid" if idempotency_key else "",
            invoice_requires_successful_payment=requires,
            notify=False,
            sections=sections,
            purchase_order_number=purchase_order_number,
        )
        tx.invoice = _credit_invoice(wallet, tx, now)
        tx.save(update_fields=["invoice", "updated_at"])
        _send_transaction_webhook(tx, "wallet_transaction.created")  # with its credit invoice
        result.append(tx)
    if granted > 0:
        granted_key = f"{idempotency_key}:granted" if idempotency_key else ""
        result.append(
            line(
                transaction_type=TransactionType.INBOUND,
                transaction_status=TransactionStatus.GRANTED,
                credits=granted,
                settle=True,
                idempotency_key=granted_key,
            )
        )
    if voided > 0:
        if voided > wallet.credits_balance:
            raise ValidationFailure.single("voided_credits", "insufficient_credits")
        cents = wallet.balance_cents if voided == wallet.credits_balance else credits_to_cents(wallet, voided)
        if void is not None and void.cents is not None:
            cents = void.cents
        result.append(
            line(
                transaction_type=TransactionType.OUTBOUND,
                transaction_status=TransactionStatus.VOIDED,
                credits=voided,
                cents=min(cents, wallet.balance_cents),
                settle=True,
                fund_from=void.inbound if void is not None else None,
            )
        )
    return result


def wallet_transaction_create(
    organization: Organization, fields: WalletTransactionCreate, *, now: dt.datetime | None = None
) -> list[WalletTransaction]:
    """`POST /wallet_transactions`: 0–3 lines (purchased, granted, voided). `voided_transaction_id`
    voids from that inbound line only (`voided_credits`, else all it still holds); `priority` is
    the new lines' (docs/credits.md, "Traceability")."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    paid, voided = fields.paid_credits, fields.voided_credits
    with transaction.atomic():
        wallet = _get_locked(organization, fields.wallet_id)
        if wallet.status != WalletStatus.ACTIVE:
            raise NotAllowedFailure("wallet_not_active")
        if not fields.ignore_paid_top_up_limits:
            _check_top_up_limits(wallet, paid, errors)
        if voided > wallet.credits_balance:
            errors.setdefault("voided_credits", []).append("insufficient_credits")
        void = _void_target(wallet, fields.voided_transaction_id, voided, errors)
        try:
            choice = payment_method_choose(wallet.customer, fields.payment_method)
        except ValidationFailure as failure:
            errors.update(failure.details)  # type: ignore[arg-type]
        if errors:
            raise ValidationFailure(errors)
        sections = section_choice(organization, fields.invoice_custom_section)  # 404 before any write
        if void is not None and voided == 0:
            voided = cents_to_credits(wallet, void.inbound.remaining_amount_cents or 0)
        return _top_up(
            wallet,
            paid=paid,
            granted=fields.granted_credits,
            voided=voided,
            now=now,
            name=fields.name,
            metadata=[{"key": m.key, "value": m.value} for m in fields.metadata],
            invoice_requires_successful_payment=fields.invoice_requires_successful_payment,
            priority=fields.priority,
            void=void,
            payment_method=choice,
            sections=sections,
            purchase_order_number=fields.purchase_order_number,
        )


@dataclass(frozen=True)
class VoidTarget:
    """The inbound line a void draws on, and the cents to void when it is all it holds."""

    inbound: WalletTransaction
    cents: int | None


def _void_target(
    wallet: Wallet, transaction_id: str | None, voided: Decimal, errors: dict[str, list[str]]
) -> VoidTarget | None:
    """Lago's `voided_transaction_id`: an inbound line of the (locked) wallet that still holds credits."""
    if transaction_id is None:
        return None
    inbound = first_with_id(
        WalletTransaction.objects.filter(wallet=wallet, transaction_type=TransactionType.INBOUND), transaction_id
    )
    if inbound is None:
        errors.setdefault("voided_transaction_id", []).append("wallet_transaction_not_found")
        return None
    remaining = inbound.remaining_amount_cents or 0
    if remaining <= 0:
        errors.setdefault("voided_transaction_id", []).append("no_remaining_amount")
        return None
    if voided == 0:
        return VoidTarget(inbound, remaining)
    if credits_to_cents(wallet, voided) > remaining:
        errors.setdefault("amount_cents", []).append("exceeds_remaining_transaction_amount")
        return None
    return VoidTarget(inbound, None)


def wallet_transaction_settle(transaction_id: UUID | str, *, now: dt.datetime | None = None) -> WalletTransaction:
    """A purchase's payment succeeded: the credits enter the balance (once; safe to call twice).

    For the payments app (provider success) and the manual `PUT /invoices/{id}` flow.
    """
    now = now or timezone.now()
    with transaction.atomic():
        tx = WalletTransaction.objects.select_for_update().get(id=transaction_id)
        if tx.status != TransactionSettlement.PENDING:
            return tx
        wallet = _locked_wallet(tx.wallet_id)
        tx.status = TransactionSettlement.SETTLED
        tx.settled_at = now
        tx.remaining_amount_cents = tx.amount_cents if tx.transaction_type == TransactionType.INBOUND else None
        tx.save(update_fields=["status", "settled_at", "remaining_amount_cents", "updated_at"])
        _apply_settled(wallet, tx, now)
        tx.wallet = wallet
        if wallet.status != WalletStatus.ACTIVE:  # paid after termination: the credits are voided at once
            _void(wallet, Decimal(tx.credit_amount), tx.amount_cents, now)
        _send_transaction_webhook(tx, "wallet_transaction.updated")
    return tx


def wallet_transaction_fail(transaction_id: UUID | str, *, now: dt.datetime | None = None) -> WalletTransaction:
    """A purchase's payment failed for good: the line is `failed`, the balance untouched."""
    now = now or timezone.now()
    with transaction.atomic():
        tx = WalletTransaction.objects.select_for_update().select_related("wallet__organization").get(id=transaction_id)
        if tx.status != TransactionSettlement.PENDING:
            return tx
        tx.status = TransactionSettlement.FAILED
        tx.failed_at = now
        tx.save(update_fields=["status", "failed_at", "updated_at"])
        _send_transaction_webhook(tx, "wallet_transaction.updated")
    return tx


def wallet_transactions_settle_for_invoice(invoice: Invoice, *, now: dt.datetime | None = None) -> int:
    """The credit invoice `invoice` was paid: settle its pending purchases. Returns how many."""
    if invoice.invoice_type != InvoiceType.CREDIT:
        return 0
    ids = list(
        WalletTransaction.objects.filter(invoice=invoice, status=TransactionSettlement.PENDING).values_list(
            "id", flat=True
        )
    )
    for tx_id in ids:
        wallet_transaction_settle(tx_id, now=now)
    return len(ids)


# ------------------------------------------------------------------------------------ balances


def current_usage_cents(wallet: Wallet, now: dt.datetime) -> int:
    """The customer's current (not yet invoiced) usage, taxes included, of its subscriptions in the
    wallet's currency (a subscription's currency is its plan's; the others are not read)."""
    from billing_project.core.errors import DomainError
    from invoicing.selectors import current_usage
    from subscriptions.models import Subscription, SubscriptionStatus

    total = 0
    subscriptions = Subscription.objects.filter(
        customer_id=wallet.customer_id, status=SubscriptionStatus.ACTIVE, plan__amount_currency=wallet.currency
    ).values_list("external_id", flat=True)
    for external_id in subscriptions:
        try:
            usage = current_usage(
                wallet.organization,
                external_customer_id=wallet.customer.external_id,
                external_subscription_id=external_id,
                at=now,
            )
        except DomainError:
            continue
        total += int(usage.get("total_amount_cents") or 0)
    return total


def _refresh_ongoing(wallet: Wallet, now: dt.datetime, *, with_usage: bool = False) -> None:
    """`ongoing_balance = balance − ongoing usage`: draft invoices of the customer in the wallet's
    currency, plus the current usage when `with_usage` (the hourly sweep; Lago refreshes it
    asynchronously too; a balance change in between counts the drafts only). Fires `wallet.depleted_ongoing_balance` when it reaches zero."""
    from invoicing.models import InvoiceStatus

    drafts = Invoice.objects.filter(
        customer_id=wallet.customer_id,
        currency=wallet.currency,
        status=InvoiceStatus.DRAFT,
        invoice_type__in=[InvoiceType.SUBSCRIPTION, InvoiceType.PROGRESSIVE_BILLING],
    ).values_list("sub_total_including_taxes_amount_cents", flat=True)
    usage = sum(drafts)
    if with_usage:
        usage += current_usage_cents(wallet, now)
    wallet.ongoing_usage_balance_cents = usage
    wallet.credits_ongoing_usage_balance = cents_to_credits(wallet, usage)
    wallet.ongoing_balance_cents = wallet.balance_cents - usage
    wallet.credits_ongoing_balance = Decimal(wallet.credits_balance) - Decimal(wallet.credits_ongoing_usage_balance)
    wallet.last_balance_sync_at = now
    depleted = wallet.ongoing_balance_cents <= 0
    if depleted and not wallet.depleted_ongoing_balance and wallet.pk and not wallet._state.adding:
        _send_wallet_webhook(wallet, "wallet.depleted_ongoing_balance")
    wallet.depleted_ongoing_balance = depleted


def wallet_refresh_ongoing_balance(wallet_id: UUID | str, *, now: dt.datetime | None = None) -> Wallet:
    """Recompute the ongoing balance with the current usage (the sweep)."""
    now = now or timezone.now()
    with transaction.atomic():
        wallet = _locked_wallet(wallet_id)
        _refresh_ongoing(wallet, now, with_usage=True)
        wallet.save()
    return wallet


def wallets_refresh_ongoing_balances(now: dt.datetime | None = None) -> int:
    ids = list(Wallet.objects.filter(status=WalletStatus.ACTIVE).values_list("id", flat=True))
    for wallet_id in ids:
        wallet_refresh_ongoing_balance(wallet_id, now=now)
    return len(ids)


# ------------------------------------------------------------------------------------ invoices


def wallets_for_invoice(invoice: Invoice) -> tuple[list[WalletBalance], dict[str, Wallet]]:
    """The customer's active wallets in the invoice currency, locked, in creation order."""
    wallets = list(
        Wallet.objects.select_for_update(of=("self",))
        .select_related("organization")
        .filter(customer_id=invoice.customer_id, currency=invoice.currency, status=WalletStatus.ACTIVE)
        .order_by("created_at", "id")
    )
    codes = {c for w in wallets for c in w.applies_to_billable_metric_codes}
    metric_ids = dict(
        BillableMetric.objects.filter(organization_id=invoice.organization_id, code__in=codes).values_list("code", "id")
    )
    balances = [
        WalletBalance(
            id=str(w.id),
            balance_cents=int(w.balance_cents),
            priority=w.priority,
            fee_types=frozenset(w.applies_to_fee_types),
            billable_metric_ids=frozenset(
                str(metric_ids[c]) for c in w.applies_to_billable_metric_codes if c in metric_ids
            ),
            name=w.name,
        )
        for w in wallets
        if w.balance_cents > 0
    ]
    return balances, {str(w.id): w for w in wallets}


def wallets_consume(invoice: Invoice, prepaid_credits: Any, wallets: dict[str, Wallet], *, now: dt.datetime) -> None:
    """One outbound `invoiced` line per wallet used (the wallets are locked by `wallets_for_invoice`)."""
    for credit in prepaid_credits:
        if credit.amount_cents <= 0:
            continue
        wallet = wallets[credit.wallet_id]
        credits = (
            Decimal(wallet.credits_balance)
            if credit.amount_cents >= wallet.balance_cents
            else min(cents_to_credits(wallet, credit.amount_cents), Decimal(wallet.credits_balance))
        )
        _record(
            wallet,
            transaction_type=TransactionType.OUTBOUND,
            transaction_status=TransactionStatus.INVOICED,
            credits=credits,
            cents=credit.amount_cents,
            settle=True,
            now=now,
            invoice=invoice,
        )


def wallets_restore_for_voided_invoice(invoice: Invoice, *, now: dt.datetime) -> list[WalletTransaction]:
    """§6.7: voiding an invoice gives the consumed credits back (once per wallet)."""
    restored = []
    consumed = WalletTransaction.objects.filter(
        invoice=invoice,
        transaction_status=TransactionStatus.INVOICED,
        status=TransactionSettlement.SETTLED,
    ).order_by("created_at", "id")
    for line in consumed:
        wallet = _locked_wallet(line.wallet_id)
        if wallet.status != WalletStatus.ACTIVE:
            continue
        if WalletTransaction.objects.filter(wallet=wallet, voided_invoice=invoice).exists():
            continue
        restored.append(
            _record(
                wallet,
                transaction_type=TransactionType.INBOUND,
                transaction_status=TransactionStatus.GRANTED,
                credits=Decimal(line.credit_amount),
                cents=line.amount_cents,
                settle=True,
                now=now,
                voided_invoice=invoice,
            )
        )
    return restored


def ledger_totals(wallet: Wallet) -> tuple[int, Decimal]:
    """The balance as the ledger says it (settled inbound − settled outbound)."""
    cents, credits = 0, ZERO
    settled: QuerySet = WalletTransaction.objects.filter(wallet=wallet, status=TransactionSettlement.SETTLED)
    for tx_type, amount, credit in settled.values_list("transaction_type", "amount_cents", "credit_amount"):
        sign = 1 if tx_type == TransactionType.INBOUND else -1
        cents += sign * amount
        credits += sign * Decimal(credit)
    return cents, credits
