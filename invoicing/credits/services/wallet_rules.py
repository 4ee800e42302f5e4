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
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing_project.core.errors import ValidationFailure
from billing_project.core.money import parse_decimal
from customers.payment_choice import PROVIDER_DEFAULT, PaymentMethodChoice, payment_method_choose, payment_method_input
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


def _credits(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    if value in (None, ""):
        return None
    number = parse_decimal(value)
    if number is None or number < 0:
        errors.setdefault(f"recurring_transaction_rules.{field}", []).append("invalid_amount")
        return None
    return number


def _rule_payment_method(wallet: Wallet, rule: dict[str, Any], errors: dict[str, list[str]]) -> PaymentMethodChoice:
    """A rule's `payment_method`: its top-ups are collected with it (docs/payments.md §12)."""
    try:
        return payment_method_choose(wallet.customer, payment_method_input(rule))
    except ValidationFailure as failure:
        for field, codes in failure.details.items():
            errors.setdefault(field, []).extend(codes)  # type: ignore[arg-type]
        return PROVIDER_DEFAULT


def rules_replace(wallet: Wallet, rules: list[dict[str, Any]]) -> list[RecurringTransactionRule]:
    """Validate and store the wallet's rules (an update replaces them, as Lago does)."""
    from invoicing.credits.services.wallets import _datetime, _text

    if not isinstance(rules, list):
        raise ValidationFailure.single("recurring_transaction_rules", "value_is_invalid")
    errors: dict[str, list[str]] = {}
    rows = []
    for rule in rules:
        if not isinstance(rule, dict):
            errors.setdefault("recurring_transaction_rules", []).append("value_is_invalid")
            continue
        trigger = rule.get("trigger") or RuleTrigger.INTERVAL
        method = rule.get("method") or RuleMethod.FIXED
        interval = rule.get("interval") or ""
        if trigger not in RuleTrigger.values:
            errors.setdefault("recurring_transaction_rules.trigger", []).append("value_is_invalid")
        if method not in RuleMethod.values:
            errors.setdefault("recurring_transaction_rules.method", []).append("value_is_invalid")
        if trigger == RuleTrigger.INTERVAL and interval not in RuleInterval.values:
            errors.setdefault("recurring_transaction_rules.interval", []).append("value_is_invalid")
        threshold = _credits(rule.get("threshold_credits"), "threshold_credits", errors)
        if trigger == RuleTrigger.THRESHOLD and threshold is None:
            errors.setdefault("recurring_transaction_rules.threshold_credits", []).append("value_is_mandatory")
        target = _credits(rule.get("target_ongoing_balance"), "target_ongoing_balance", errors)
        if method == RuleMethod.TARGET and target is None:
            errors.setdefault("recurring_transaction_rules.target_ongoing_balance", []).append("value_is_mandatory")
        rows.append(
            RecurringTransactionRule(
                organization_id=wallet.organization_id,
                wallet=wallet,
                trigger=trigger,
                interval=interval if trigger == RuleTrigger.INTERVAL else "",
                method=method,
                paid_credits=_credits(rule.get("paid_credits"), "paid_credits", errors) or ZERO,
                granted_credits=_credits(rule.get("granted_credits"), "granted_credits", errors) or ZERO,
                threshold_credits=threshold,
                target_ongoing_balance=target,
                started_at=_datetime(rule.get("started_at"), "recurring_transaction_rules.started_at", errors),
                expiration_at=_datetime(rule.get("expiration_at"), "recurring_transaction_rules.expiration_at", errors),
                transaction_metadata=rule.get("transaction_metadata") or [],
                transaction_name=_text(
                    rule.get("transaction_name"), "recurring_transaction_rules.transaction_name", errors
                ),
                ignore_paid_top_up_limits=bool(rule.get("ignore_paid_top_up_limits")),
                **_rule_payment_method(wallet, rule, errors).fields(),
            )
        )
    if errors:
        raise ValidationFailure(errors)
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
