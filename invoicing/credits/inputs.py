"""Typed inputs of the credits services: wallets, wallet transactions (top-ups, voids), recurring
top-up rules and credit notes (billing_project/core/inputs.py: `UNSET` is "not sent").

Each input has a `from_body` reading a request body (the object under the root key), used by the
API, the admin and the console alike: it checks everything the body alone decides, with Lago's
codes and in the order the fields were always checked (types, text lengths, credit amounts and
their digits, priorities, choices, dates), and refuses the body with one 422 naming every field it
refused. The services take the typed input and keep the rules that need the database or the clock
(the customer and the wallet exist, the billable metrics exist, the currency, the number of active
wallets, a code taken, paid top-up limits, an expiration in the past, what an invoice can still
credit). A malformed body is therefore refused before anything is looked up (docs/credits.md,
"Input").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from billing_project.core import bounds
from billing_project.core.errors import ValidationFailure
from billing_project.core.inputs import UNSET, Unset
from billing_project.core.lookup import uuid_or_not_found
from billing_project.core.money import parse_decimal
from customers.payment_choice import PaymentMethodInput, payment_method_input
from customers.section_choice import SectionChoiceInput
from invoicing.credits.models import CreditNoteReason, RefundStatus, RuleInterval, RuleMethod, RuleTrigger
from invoicing.credits.tracing import CREDITS_QUANTUM

Errors = dict[str, list[str]]

ZERO = Decimal(0)
RATE_QUANTUM = Decimal("1e-15")
MAX_CREDITS = Decimal(10) ** 15  # keeps credits × rate in cents within a BigInteger
MAX_RATE = Decimal(10) ** 6
FEE_TYPES = ("charge", "subscription", "commitment", "fixed_charge", "add_on")
LIMIT_FIELDS = ("paid_top_up_min_amount_cents", "paid_top_up_max_amount_cents")
RULES = "recurring_transaction_rules"


# ------------------------------------------------------------------------------------ the checks


def _refuse(errors: Errors, field: str, code: str) -> None:
    errors.setdefault(field, []).append(code)


def _credits(value: Any, field: str, errors: Errors) -> Decimal:
    """Credits: a decimal (string or integer) of at most 5 places, 0..10^15; null or "" is 0."""
    if value is None or value == "":
        return ZERO
    number = parse_decimal(value)
    if number is not None and (number > MAX_CREDITS or number < 0):
        _refuse(errors, field, "invalid_amount")
        return ZERO
    if number is None or number != number.quantize(CREDITS_QUANTUM):
        _refuse(errors, field, "invalid_amount" if number is not None else "value_is_invalid")
        return ZERO
    return number


def _rate(value: Any, errors: Errors) -> Decimal:
    rate = parse_decimal(value)
    if rate is not None and (rate > MAX_RATE or rate <= 0 or rate != rate.quantize(RATE_QUANTUM)):
        rate = ZERO
    if rate is None or rate <= 0:
        _refuse(errors, "rate_amount", "invalid_amount" if rate is not None else "value_is_mandatory")
        return ZERO
    return rate


def _rule_credits(value: Any, name: str, errors: Errors) -> Decimal | None:
    """A rule's credits: a decimal at least 0, None when not given."""
    if value in (None, ""):
        return None
    number = parse_decimal(value)
    if number is None or number < 0:
        _refuse(errors, f"{RULES}.{name}", "invalid_amount")
        return None
    return number


def _datetime(value: Any, field: str, errors: Errors) -> dt.datetime | None:
    """A date-time within 2000..2100 (billing_project/core/bounds.py), else `invalid_date`."""
    if value in (None, ""):
        return None
    parsed = bounds.client_datetime(value)
    if parsed is None:
        _refuse(errors, field, "invalid_date")
    return parsed


def _text(value: Any, field: str, errors: Errors, *, max_length: int = 255) -> str:
    """A name or code: text of at most `max_length` characters (null is empty); anything else,
    an object or a number, is refused rather than stored as its repr."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        _refuse(errors, field, "value_is_invalid")
        return ""
    return value


def _is_priority(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 1 <= value <= 50


def _priority(value: Any, field: str, errors: Errors) -> int | None:
    """A consumption priority, 1 (first) to 50; None when not given."""
    if value is None:
        return None
    if not _is_priority(value):
        _refuse(errors, field, "value_is_invalid")
        return None
    return int(value)


def _limits(data: Mapping[str, Any], errors: Errors) -> dict[str, int | None]:
    """The paid top-up limits sent (positive cents, the minimum at most the maximum)."""
    result: dict[str, int | None] = {}
    for name in LIMIT_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if value is None:
            result[name] = None
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= bounds.MAX_AMOUNT_CENTS:
            _refuse(errors, name, "value_is_invalid")
        else:
            result[name] = value
    low, high = result.get(LIMIT_FIELDS[0]), result.get(LIMIT_FIELDS[1])
    if low is not None and high is not None and low > high:
        _refuse(errors, LIMIT_FIELDS[1], "must_be_greater_than_min")
    return result


def _object(value: Any, field: str, errors: Errors) -> dict[str, Any]:
    """A JSON object (null is empty)."""
    if value is not None and not isinstance(value, dict):
        _refuse(errors, field, "value_is_invalid")
        return {}
    return value or {}


def _as_text(value: Any) -> str:
    return "" if not value else value if isinstance(value, str) else str(value)


def _payment_method(data: Mapping[str, Any], errors: Errors) -> PaymentMethodInput | Unset | None:
    """Lago's `payment_method` object as sent (which method it names is the service's to check)."""
    try:
        return payment_method_input(data)
    except ValidationFailure as failure:  # not an object
        for name, codes in failure.details.items():
            errors.setdefault(name, []).extend(codes)  # type: ignore[arg-type]
        return UNSET


def _sections(
    data: Mapping[str, Any], errors: Errors, field: str = "invoice_custom_section"
) -> SectionChoiceInput | None:
    """Lago's `invoice_custom_section` object as sent (None: not sent or null); anything but
    `{skip_invoice_custom_sections: bool, invoice_custom_section_codes: [text]}` is refused."""
    value = data.get("invoice_custom_section")
    if value is None:
        return None
    skip = value.get("skip_invoice_custom_sections") if isinstance(value, Mapping) else None
    codes = value.get("invoice_custom_section_codes") if isinstance(value, Mapping) else None
    if (
        not isinstance(value, Mapping)
        or (skip is not None and not isinstance(skip, bool))
        or (codes is not None and (not isinstance(codes, list) or not all(isinstance(c, str) for c in codes)))
    ):
        _refuse(errors, field, "value_is_invalid")
        return None
    return SectionChoiceInput(
        skip_invoice_custom_sections=skip, invoice_custom_section_codes=None if codes is None else tuple(codes)
    )


def _raise(errors: Errors) -> None:
    if errors:
        raise ValidationFailure(errors)


def _body(data: object) -> Mapping[str, Any]:
    return data if isinstance(data, Mapping) else {}


# ------------------------------------------------------------------------------------ wallets


@dataclass(frozen=True)
class AppliesTo:
    """What a wallet's credits pay for (empty: everything): fee types and billable metric codes."""

    fee_types: tuple[str, ...] = ()
    billable_metric_codes: tuple[str, ...] = ()

    @classmethod
    def from_body(cls, value: Any, errors: Errors) -> AppliesTo:
        if value in (None, ""):
            return cls()
        if not isinstance(value, dict):
            _refuse(errors, "applies_to", "value_is_invalid")
            return cls()
        fee_types = value.get("fee_types") or []
        if not isinstance(fee_types, list) or any(not isinstance(t, str) or t not in FEE_TYPES for t in fee_types):
            _refuse(errors, "applies_to", "invalid_fee_types")
            fee_types = []
        codes = value.get("billable_metric_codes")
        if codes in (None, ""):
            codes = []
        elif not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            _refuse(errors, "applies_to", "value_is_invalid")
            codes = []
        return cls(tuple(dict.fromkeys(fee_types)), tuple(dict.fromkeys(codes)))


@dataclass(frozen=True)
class RecurringRuleFields:
    """One recurring top-up rule (docs/billing-semantics.md §7); a wallet's rules are replaced whole."""

    trigger: RuleTrigger = RuleTrigger.INTERVAL
    method: RuleMethod = RuleMethod.FIXED
    interval: RuleInterval | None = None  # only for `interval` rules
    paid_credits: Decimal = ZERO
    granted_credits: Decimal = ZERO
    threshold_credits: Decimal | None = None
    target_ongoing_balance: Decimal | None = None
    started_at: dt.datetime | None = None
    expiration_at: dt.datetime | None = None
    transaction_metadata: Any = field(default_factory=list)  # stored as sent (a JSON value)
    transaction_name: str = ""
    ignore_paid_top_up_limits: bool = False
    payment_method: PaymentMethodInput | Unset | None = UNSET  # its top-ups' (docs/payments.md §12)
    invoice_custom_section: SectionChoiceInput | None = None  # its top-ups' (else the wallet's)
    purchase_order_number: str = ""  # its top-ups' (else the wallet's)

    @classmethod
    def from_body(cls, rule: Mapping[str, Any], errors: Errors) -> RecurringRuleFields:
        trigger = rule.get("trigger") or RuleTrigger.INTERVAL
        method = rule.get("method") or RuleMethod.FIXED
        interval = rule.get("interval") or ""
        if trigger not in RuleTrigger.values:
            _refuse(errors, f"{RULES}.trigger", "value_is_invalid")
        if method not in RuleMethod.values:
            _refuse(errors, f"{RULES}.method", "value_is_invalid")
        if trigger == RuleTrigger.INTERVAL and interval not in RuleInterval.values:
            _refuse(errors, f"{RULES}.interval", "value_is_invalid")
        threshold = _rule_credits(rule.get("threshold_credits"), "threshold_credits", errors)
        if trigger == RuleTrigger.THRESHOLD and threshold is None:
            _refuse(errors, f"{RULES}.threshold_credits", "value_is_mandatory")
        target = _rule_credits(rule.get("target_ongoing_balance"), "target_ongoing_balance", errors)
        if method == RuleMethod.TARGET and target is None:
            _refuse(errors, f"{RULES}.target_ongoing_balance", "value_is_mandatory")
        paid = _rule_credits(rule.get("paid_credits"), "paid_credits", errors) or ZERO
        granted = _rule_credits(rule.get("granted_credits"), "granted_credits", errors) or ZERO
        started_at = _datetime(rule.get("started_at"), f"{RULES}.started_at", errors)
        expiration_at = _datetime(rule.get("expiration_at"), f"{RULES}.expiration_at", errors)
        name = _text(rule.get("transaction_name"), f"{RULES}.transaction_name", errors)
        payment_method = _payment_method(rule, errors)
        sections = _sections(rule, errors, f"{RULES}.invoice_custom_section")
        purchase_order_number = _text(rule.get("purchase_order_number"), f"{RULES}.purchase_order_number", errors)
        if errors:  # refused by the caller; the values below need valid choices
            return cls()
        return cls(
            trigger=RuleTrigger(trigger),
            method=RuleMethod(method),
            interval=RuleInterval(interval) if trigger == RuleTrigger.INTERVAL else None,
            paid_credits=paid,
            granted_credits=granted,
            threshold_credits=threshold,
            target_ongoing_balance=target,
            started_at=started_at,
            expiration_at=expiration_at,
            transaction_metadata=rule.get("transaction_metadata") or [],
            transaction_name=name,
            ignore_paid_top_up_limits=bool(rule.get("ignore_paid_top_up_limits")),
            payment_method=payment_method,
            invoice_custom_section=sections,
            purchase_order_number=purchase_order_number,
        )

    @classmethod
    def list_from_body(cls, rules: Any) -> tuple[RecurringRuleFields, ...]:
        """The rules sent (null is none), refused with Lago's codes under `recurring_transaction_rules.*`."""
        rules = rules or []
        if not isinstance(rules, list):
            raise ValidationFailure.single(RULES, "value_is_invalid")
        errors: Errors = {}
        parsed = []
        for rule in rules:
            if not isinstance(rule, dict):
                _refuse(errors, RULES, "value_is_invalid")
                continue
            parsed.append(cls.from_body(rule, errors))
        _raise(errors)
        return tuple(parsed)


@dataclass(frozen=True)
class WalletCreate:
    """`POST /wallets` (and `POST /customers/{external_id}/wallets`): a wallet, its first paid and
    granted credits (`transaction_*` describe those lines) and its recurring rules. `currency`
    None: the customer's, else the organization's."""

    external_customer_id: str
    rate_amount: Decimal
    currency: str | None = None
    name: str = ""
    code: str = ""
    priority: int = 50
    paid_credits: Decimal = ZERO
    granted_credits: Decimal = ZERO
    expiration_at: dt.datetime | None = None
    applies_to: AppliesTo = AppliesTo()
    paid_top_up_min_amount_cents: int | None = None
    paid_top_up_max_amount_cents: int | None = None
    invoice_requires_successful_payment: bool = False
    ignore_paid_top_up_limits_on_creation: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    recurring_transaction_rules: tuple[RecurringRuleFields, ...] = ()
    transaction_name: str = ""
    transaction_priority: int | None = None
    transaction_metadata: Any = field(default_factory=list)  # stored on the lines as sent (a JSON value)
    payment_method: PaymentMethodInput | Unset | None = UNSET  # docs/payments.md §12
    # docs/billing-entities.md §3, §4: the entity, sections and purchase order of its top-ups.
    billing_entity_code: str = ""
    invoice_custom_section: SectionChoiceInput | None = None
    purchase_order_number: str = ""

    @classmethod
    def from_body(cls, data: object) -> WalletCreate:
        data = _body(data)
        errors: Errors = {}
        rate = _rate(data.get("rate_amount"), errors)
        paid = _credits(data.get("paid_credits"), "paid_credits", errors)
        granted = _credits(data.get("granted_credits"), "granted_credits", errors)
        priority = data.get("priority", 50)
        if priority is None:
            priority = 50
        if not _is_priority(priority):
            _refuse(errors, "priority", "value_is_invalid")
            priority = 50
        expiration_at = _datetime(data.get("expiration_at"), "expiration_at", errors)
        applies_to = AppliesTo.from_body(data.get("applies_to"), errors)
        limits = _limits(data, errors)
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            _refuse(errors, "metadata", "value_is_invalid")
            metadata = {}
        name = _text(data.get("name"), "name", errors)
        transaction_name = _text(data.get("transaction_name"), "transaction_name", errors)
        transaction_priority = _priority(data.get("transaction_priority"), "transaction_priority", errors)
        code = _text(data.get("code"), "code", errors)
        currency = data.get("currency") or None
        if currency is not None and not isinstance(currency, str):
            _refuse(errors, "currency", "value_is_invalid")
        payment_method = _payment_method(data, errors)
        entity_code = _text(data.get("billing_entity_code"), "billing_entity_code", errors)
        purchase_order_number = _text(data.get("purchase_order_number"), "purchase_order_number", errors)
        sections = _sections(data, errors)
        _raise(errors)
        return cls(
            billing_entity_code=entity_code,
            invoice_custom_section=sections,
            purchase_order_number=purchase_order_number,
            external_customer_id=_as_text(data.get("external_customer_id")),
            rate_amount=rate,
            currency=currency,
            name=name,
            code=code,
            priority=priority,
            paid_credits=paid,
            granted_credits=granted,
            expiration_at=expiration_at,
            applies_to=applies_to,
            invoice_requires_successful_payment=bool(data.get("invoice_requires_successful_payment")),
            ignore_paid_top_up_limits_on_creation=bool(data.get("ignore_paid_top_up_limits_on_creation")),
            metadata=metadata,
            recurring_transaction_rules=RecurringRuleFields.list_from_body(data.get(RULES)),
            transaction_name=transaction_name,
            transaction_priority=transaction_priority,
            transaction_metadata=data.get("transaction_metadata") or [],
            payment_method=payment_method,
            **limits,
        )


@dataclass(frozen=True)
class WalletUpdate:
    """`PUT /wallets/{id}`: the fields sent change (`UNSET`: not sent); rules sent replace them all."""

    name: str | Unset = UNSET
    priority: int | Unset = UNSET
    expiration_at: dt.datetime | Unset | None = UNSET
    applies_to: AppliesTo | Unset = UNSET
    paid_top_up_min_amount_cents: int | Unset | None = UNSET
    paid_top_up_max_amount_cents: int | Unset | None = UNSET
    invoice_requires_successful_payment: bool | Unset = UNSET
    metadata: Mapping[str, Any] | Unset = UNSET
    recurring_transaction_rules: tuple[RecurringRuleFields, ...] | Unset = UNSET
    payment_method: PaymentMethodInput | Unset | None = UNSET  # docs/payments.md §12
    billing_entity_code: str | Unset = UNSET  # "": the customer's entity again
    invoice_custom_section: SectionChoiceInput | None = None
    purchase_order_number: str | Unset = UNSET

    @classmethod
    def from_body(cls, data: object) -> WalletUpdate:
        data = _body(data)
        errors: Errors = {}
        values: dict[str, Any] = {}
        if "name" in data:
            values["name"] = _text(data.get("name"), "name", errors)
        if "priority" in data:
            if _is_priority(data["priority"]):
                values["priority"] = data["priority"]
            else:
                _refuse(errors, "priority", "value_is_invalid")
        if "expiration_at" in data:
            values["expiration_at"] = _datetime(data["expiration_at"], "expiration_at", errors)
        if "applies_to" in data:
            values["applies_to"] = AppliesTo.from_body(data["applies_to"], errors)
        values.update(_limits(data, errors))
        if "invoice_requires_successful_payment" in data:
            values["invoice_requires_successful_payment"] = bool(data["invoice_requires_successful_payment"])
        if "metadata" in data:
            values["metadata"] = _object(data["metadata"], "metadata", errors)
        values["payment_method"] = _payment_method(data, errors)
        for name in ("billing_entity_code", "purchase_order_number"):
            if name in data:
                values[name] = _text(data[name], name, errors)
        values["invoice_custom_section"] = _sections(data, errors)
        _raise(errors)
        if RULES in data:
            values[RULES] = RecurringRuleFields.list_from_body(data[RULES])
        return cls(**values)


@dataclass(frozen=True)
class TransactionMetadata:
    key: str
    value: str = ""


@dataclass(frozen=True)
class WalletTransactionCreate:
    """`POST /wallet_transactions`: paid (a purchase), granted and voided credits of one wallet.
    `voided_transaction_id` voids from that inbound line only; `priority` is the new lines' (None:
    the wallet's); `invoice_requires_successful_payment` None: the wallet's."""

    wallet_id: str | None
    paid_credits: Decimal = ZERO
    granted_credits: Decimal = ZERO
    voided_credits: Decimal = ZERO
    voided_transaction_id: str | None = None
    priority: int | None = None
    invoice_requires_successful_payment: bool | None = None
    metadata: tuple[TransactionMetadata, ...] = ()
    name: str = ""
    ignore_paid_top_up_limits: bool = False
    payment_method: PaymentMethodInput | Unset | None = UNSET  # the purchase's (docs/payments.md §12)
    invoice_custom_section: SectionChoiceInput | None = None  # the purchase's (else its wallet's)
    purchase_order_number: str = ""  # the purchase's (else its wallet's)

    @classmethod
    def from_body(cls, data: object) -> WalletTransactionCreate:
        data = _body(data)
        errors: Errors = {}
        paid = _credits(data.get("paid_credits"), "paid_credits", errors)
        granted = _credits(data.get("granted_credits"), "granted_credits", errors)
        voided = _credits(data.get("voided_credits"), "voided_credits", errors)
        priority = _priority(data.get("priority"), "priority", errors)
        metadata = data.get("metadata") or []
        if not isinstance(metadata, list) or not all(isinstance(m, dict) and "key" in m for m in metadata):
            _refuse(errors, "metadata", "value_is_invalid")
            metadata = []
        name = _text(data.get("name"), "name", errors)
        payment_method = _payment_method(data, errors)
        sections = _sections(data, errors)
        purchase_order_number = _text(data.get("purchase_order_number"), "purchase_order_number", errors)
        _raise(errors)
        wallet_id, void_id, requires = data.get("wallet_id"), data.get("voided_transaction_id"), None
        if data.get("invoice_requires_successful_payment") is not None:
            requires = bool(data["invoice_requires_successful_payment"])
        return cls(
            wallet_id=None if wallet_id is None else str(wallet_id),
            paid_credits=paid,
            granted_credits=granted,
            voided_credits=voided,
            voided_transaction_id=None if void_id in (None, "") else str(void_id),
            priority=priority,
            invoice_requires_successful_payment=requires,
            metadata=tuple(TransactionMetadata(str(m["key"]), str(m.get("value") or "")) for m in metadata),
            name=name,
            ignore_paid_top_up_limits=bool(data.get("ignore_paid_top_up_limits")),
            payment_method=payment_method,
            invoice_custom_section=sections,
            purchase_order_number=purchase_order_number,
        )


# ------------------------------------------------------------------------------------ credit notes


@dataclass(frozen=True)
class CreditNoteItemFields:
    """An amount (cents before tax, an integer or an exact decimal) credited on one fee."""

    fee_id: str
    amount_cents: int | Decimal


def _credit_note_items(raw: Any) -> tuple[CreditNoteItemFields, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValidationFailure.single("items", "must_be_an_array")
    items = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValidationFailure.single("items", "must_be_an_array")
        amount = item.get("amount_cents")
        if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
            raise ValidationFailure.single("amount_cents", "invalid_value")
        items.append(CreditNoteItemFields(fee_id=str(item.get("fee_id") or ""), amount_cents=amount))
    return tuple(items)


def _invoice_id(data: Mapping[str, Any]) -> UUID:
    return uuid_or_not_found(data.get("invoice_id"), "invoice")


@dataclass(frozen=True)
class CreditNoteEstimate:
    """`POST /credit_notes/estimate`: the items of a credit note not issued."""

    invoice_id: UUID | str
    items: tuple[CreditNoteItemFields, ...]

    @classmethod
    def from_body(cls, data: object) -> CreditNoteEstimate:
        data = _body(data)
        invoice_id = _invoice_id(data)  # an id that is not a UUID is an unknown invoice (404)
        return cls(invoice_id=invoice_id, items=_credit_note_items(data.get("items")))


@dataclass(frozen=True)
class CreditNoteCreate:
    """`POST /credit_notes`: the items credited and how the total splits (credit, refund, offset)."""

    invoice_id: UUID | str
    items: tuple[CreditNoteItemFields, ...]
    credit_amount_cents: int = 0
    refund_amount_cents: int = 0
    offset_amount_cents: int = 0
    reason: CreditNoteReason = CreditNoteReason.OTHER
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_body(cls, data: object) -> CreditNoteCreate:
        """Checked one field at a time, in this order, each refusal a 422 of its own."""
        data = _body(data)
        invoice_id = _invoice_id(data)
        reason = data.get("reason") or CreditNoteReason.OTHER
        if reason not in CreditNoteReason.values:
            raise ValidationFailure.single("reason", "value_is_invalid")
        parts = {}
        for name in ("credit_amount_cents", "refund_amount_cents", "offset_amount_cents"):
            value = data.get(name) or 0
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationFailure.single(name, "invalid_value")
            parts[name] = value
        metadata = data.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ValidationFailure.single("metadata", "value_is_invalid")
        description = data.get("description")
        return cls(
            invoice_id=invoice_id,
            items=_credit_note_items(data.get("items")),
            reason=CreditNoteReason(reason),
            description=_as_text(description),
            metadata=metadata or {},
            **parts,
        )


@dataclass(frozen=True)
class CreditNoteUpdate:
    """`PUT /credit_notes/{id}`: a refund settled by hand, metadata replaced (None: unchanged)."""

    refund_status: RefundStatus | None = None
    metadata: Mapping[str, Any] | None = None

    @classmethod
    def from_body(cls, data: object) -> CreditNoteUpdate:
        data = _body(data)
        refund_status = data.get("refund_status")
        if refund_status is not None and refund_status not in RefundStatus.values:
            raise ValidationFailure.single("refund_status", "value_is_invalid")
        metadata = data.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ValidationFailure.single("metadata", "value_is_invalid")
        return cls(refund_status=None if refund_status is None else RefundStatus(refund_status), metadata=metadata)
