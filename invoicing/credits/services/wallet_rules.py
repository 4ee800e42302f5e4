"""Recurring top-up rules of wallets (docs/billing-semantics.md §7), run by the beat sweeper.

* `trigger: interval`: every week/month/quarter/half-year/year from `started_at` (default: the
  rule's creation); the k-th due time tops up once (idempotency key `<rule>:<k>` on the ledger).
* `trigger: threshold`: when the ongoing balance falls to `threshold_credits` or below; not again
  while a top-up of the rule is still pending.
* `method: fixed` tops up `paid_credits` / `granted_credits`; `method: target` buys what is
  missing to reach `target_ongoing_balance`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing_project.core.errors import ValidationFailure
from customers.payment_choice import payment_method_choose
from customers.section_choice import section_choice
from invoicing.credits.inputs import RecurringRuleFields
from invoicing.credits.models import (
    RecurringTransactionRule,
    RuleInterval,
    RuleMethod,
    RuleTrigger,
    TransactionSettlement,
    TransactionSource,
    Wallet,
    WalletStatus,
    WalletTransaction,
)

MONTHS = {RuleInterval.MONTHLY: 1, RuleInterval.QUARTERLY: 3, RuleInterval.SEMIANNUAL: 6, RuleInterval.YEARLY: 12}
ZERO = Decimal(0)


def rules_replace(wallet: Wallet, rules: Sequence[RecurringRuleFields]) -> list[RecurringTransactionRule]:
    """Store the wallet's rules (an update replaces them, as Lago does); a rule's `payment_method`
    must be one of the customer's (its top-ups are collected with it, docs/payments.md §12)."""
    errors: dict[str, list[str]] = {}
    choices = []
    # Their sections read (404 on an unknown code) before anything is replaced.
    sections = [section_choice(wallet.organization_id, rule.invoice_custom_section) for rule in rules]
    for rule in rules:
        try:
            choices.append(payment_method_choose(wallet.customer, rule.payment_method))
        except ValidationFailure as failure:
            for field, codes in failure.details.items():
                errors.setdefault(field, []).extend(codes)  # type: ignore[arg-type]
    if errors:
        raise ValidationFailure(errors)
    rows = [
        RecurringTransactionRule(
            organization_id=wallet.organization_id,
            wallet=wallet,
            trigger=rule.trigger,
            interval=rule.interval or "",
            method=rule.method,
            paid_credits=rule.paid_credits,
            granted_credits=rule.granted_credits,
            threshold_credits=rule.threshold_credits,
            target_ongoing_balance=rule.target_ongoing_balance,
            started_at=rule.started_at,
            expiration_at=rule.expiration_at,
            transaction_metadata=rule.transaction_metadata,
            transaction_name=rule.transaction_name,
            ignore_paid_top_up_limits=rule.ignore_paid_top_up_limits,
            purchase_order_number=rule.purchase_order_number,
            **choice.fields(),
            **chosen.fields(),
        )
        for rule, choice, chosen in zip(rules, choices, sections, strict=True)
    ]
    RecurringTransactionRule.objects.filter(wallet=wallet).delete()
    return RecurringTransactionRule.objects.bulk_create(rows)


def _add_months(value: dt.datetime, months: int) -> dt.datetime:
    month = value.month - 1 + months
    year = value.year + month // 12
    month = month % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def due_index(rule: RecurringTransactionRule, now: dt.datetime) -> int:
    """How many interval due times have passed since the rule's start (0: none yet)."""
    anchor = rule.started_at or rule.created_at
    if now <= anchor:
        return 0
    if rule.interval == RuleInterval.WEEKLY:
        return (now - anchor).days // 7
    months = MONTHS[RuleInterval(rule.interval)]
    k = ((now.year - anchor.year) * 12 + now.month - anchor.month) // months + 1
    while k > 0 and _add_months(anchor, k * months) > now:
        k -= 1
    return k


def _amounts(rule: RecurringTransactionRule, wallet: Wallet) -> tuple[Decimal, Decimal]:
    if rule.method == RuleMethod.TARGET:
        missing = Decimal(rule.target_ongoing_balance or 0) - Decimal(wallet.credits_ongoing_balance)
        return (max(missing, ZERO), ZERO)
    return Decimal(rule.paid_credits), Decimal(rule.granted_credits)


def _fire(rule_id: UUID | str, *, now: dt.datetime, key: str, source: str) -> bool:
    from invoicing.credits.services import wallets as svc

    try:
        with transaction.atomic():
            rule = RecurringTransactionRule.objects.select_related("wallet").get(id=rule_id)
            wallet = svc._locked_wallet(rule.wallet_id)
            if wallet.status != WalletStatus.ACTIVE or rule.status != "active":
                return False
            if source == TransactionSource.THRESHOLD:
                if Decimal(wallet.credits_ongoing_balance) > Decimal(rule.threshold_credits or 0):
                    return False
                if WalletTransaction.objects.filter(
                    wallet=wallet, source=TransactionSource.THRESHOLD, status=TransactionSettlement.PENDING
                ).exists():
                    return False
            paid, granted = _amounts(rule, wallet)
            if paid <= 0 and granted <= 0:
                return False
            if paid > 0 and not rule.ignore_paid_top_up_limits:
                errors: dict[str, list[str]] = {}
                svc._check_top_up_limits(wallet, paid, errors)
                if errors:
                    return False
            svc._top_up(
                wallet,
                paid=paid,
                granted=granted,
                now=now,
                source=source,
                name=rule.transaction_name,
                metadata=rule.transaction_metadata,
                idempotency_key=key,
                payment_method=rule.payment_method_choice,  # a top-up of the rule is paid as the rule says
                sections=rule.section_choice,  # none chosen: the wallet's
                purchase_order_number=rule.purchase_order_number,
            )
    except IntegrityError:
        return False  # another run topped up this due time first
    return True


def wallets_recurring_top_up(now: dt.datetime | None = None, *, dry_run: bool = False) -> list[str]:
    """The beat job: interval rules that came due and threshold rules under their threshold."""
    now = now or timezone.now()
    fired: list[str] = []
    rules = RecurringTransactionRule.objects.filter(status="active", wallet__status=WalletStatus.ACTIVE)
    for rule in rules.select_related("wallet"):
        if rule.expiration_at and rule.expiration_at <= now:
            continue
        if rule.started_at and rule.started_at > now:
            continue
        if rule.trigger == RuleTrigger.INTERVAL:
            k = due_index(rule, now)
            if k <= 0:
                continue
            key = f"{rule.id}:{k}"
            if WalletTransaction.objects.filter(
                wallet_id=rule.wallet_id, idempotency_key__startswith=key + ":"
            ).exists():
                continue
            if dry_run or _fire(rule.id, now=now, key=key, source=TransactionSource.INTERVAL):
                fired.append(str(rule.id))
        else:
            if Decimal(rule.wallet.credits_ongoing_balance) > Decimal(rule.threshold_credits or 0):
                continue
            if dry_run or _fire(rule.id, now=now, key="", source=TransactionSource.THRESHOLD):
                fired.append(str(rule.id))
    return fired
