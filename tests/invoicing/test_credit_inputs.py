"""The credits' typed inputs (invoicing/credits/inputs.py): what the body alone decides is checked
there with Lago's codes; the services get typed values (docs/credits.md, "Input")."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.inputs import UNSET
from invoicing.credits.inputs import (
    AppliesTo,
    CreditNoteCreate,
    CreditNoteItemFields,
    CreditNoteUpdate,
    RecurringRuleFields,
    TransactionMetadata,
    WalletCreate,
    WalletTransactionCreate,
    WalletUpdate,
)
from invoicing.credits.models import CreditNoteReason, RefundStatus, RuleInterval, RuleMethod, RuleTrigger


def refused(read, body) -> dict:
    with pytest.raises(ValidationFailure) as exc:
        read(body)
    return exc.value.details


def test_a_wallet_body_becomes_typed_values():
    fields = WalletCreate.from_body(
        {
            "external_customer_id": "c1",
            "rate_amount": "1.5",
            "paid_credits": "10.00001",
            "granted_credits": 5,
            "expiration_at": "2030-01-01T00:00:00Z",
            "applies_to": {"fee_types": ["charge", "charge"], "billable_metric_codes": ["calls"]},
            "recurring_transaction_rules": [{"trigger": "threshold", "threshold_credits": "2", "paid_credits": "3"}],
            "transaction_metadata": [{"key": "k", "value": "v"}],
        }
    )
    assert (fields.rate_amount, fields.paid_credits, fields.granted_credits) == (
        Decimal("1.5"),
        Decimal("10.00001"),
        Decimal(5),
    )
    assert fields.expiration_at == dt.datetime(2030, 1, 1, tzinfo=dt.UTC) and fields.priority == 50
    assert fields.applies_to == AppliesTo(("charge",), ("calls",))
    [rule] = fields.recurring_transaction_rules
    assert (rule.trigger, rule.method, rule.interval) == (RuleTrigger.THRESHOLD, RuleMethod.FIXED, None)
    assert (rule.threshold_credits, rule.paid_credits) == (Decimal(2), Decimal(3))


def test_a_wallet_body_is_refused_with_every_field_named_in_order():
    details = refused(
        WalletCreate.from_body,
        {"rate_amount": "0", "paid_credits": "1.123456", "granted_credits": "x", "priority": 51, "name": 5},
    )
    assert details == {
        "rate_amount": ["invalid_amount"],
        "paid_credits": ["invalid_amount"],
        "granted_credits": ["value_is_invalid"],
        "priority": ["value_is_invalid"],
        "name": ["value_is_invalid"],
    }
    assert refused(WalletCreate.from_body, {}) == {"rate_amount": ["value_is_mandatory"]}
    assert refused(
        WalletCreate.from_body,
        {"rate_amount": "1", "paid_top_up_min_amount_cents": 500, "paid_top_up_max_amount_cents": 100},
    ) == {"paid_top_up_max_amount_cents": ["must_be_greater_than_min"]}
    assert refused(WalletCreate.from_body, {"rate_amount": "1", "applies_to": {"fee_types": ["tax"]}}) == {
        "applies_to": ["invalid_fee_types"]
    }


def test_recurring_rules_are_refused_after_the_wallet_fields_pass():
    body = {"rate_amount": "1", "recurring_transaction_rules": [{"trigger": "threshold", "method": "target"}, 3]}
    assert refused(WalletCreate.from_body, body) == {
        "recurring_transaction_rules.threshold_credits": ["value_is_mandatory"],
        "recurring_transaction_rules.target_ongoing_balance": ["value_is_mandatory"],
        "recurring_transaction_rules": ["value_is_invalid"],
    }
    assert refused(WalletCreate.from_body, {**body, "rate_amount": None}) == {"rate_amount": ["value_is_mandatory"]}
    assert refused(WalletCreate.from_body, {"rate_amount": "1", "recurring_transaction_rules": {"a": 1}}) == {
        "recurring_transaction_rules": ["value_is_invalid"]
    }
    assert RecurringRuleFields.list_from_body([{"interval": "monthly"}])[0].interval == RuleInterval.MONTHLY


def test_a_wallet_update_changes_only_what_was_sent():
    assert WalletUpdate.from_body({}) == WalletUpdate()
    update = WalletUpdate.from_body({"name": None, "metadata": None, "expiration_at": None})
    assert (update.name, update.metadata, update.expiration_at, update.priority) == ("", {}, None, UNSET)
    assert refused(WalletUpdate.from_body, {"priority": None}) == {"priority": ["value_is_invalid"]}


def test_a_top_up_body_becomes_typed_values():
    fields = WalletTransactionCreate.from_body(
        {"wallet_id": "w", "voided_credits": "2", "metadata": [{"key": 1, "value": None}], "priority": 3}
    )
    assert fields.voided_credits == Decimal(2) and fields.priority == 3
    assert fields.metadata == (TransactionMetadata("1", ""),)
    assert fields.invoice_requires_successful_payment is None and fields.voided_transaction_id is None
    assert refused(WalletTransactionCreate.from_body, {"metadata": [{"value": "no key"}]}) == {
        "metadata": ["value_is_invalid"]
    }


def test_a_credit_note_body_is_checked_field_by_field_after_the_invoice_id():
    invoice_id = uuid.uuid4()
    body = {"invoice_id": str(invoice_id), "items": [{"fee_id": "f", "amount_cents": 100}], "refund_amount_cents": 100}
    note = CreditNoteCreate.from_body(body)
    assert note.invoice_id == invoice_id and note.items == (CreditNoteItemFields("f", 100),)
    assert (note.reason, note.refund_amount_cents, note.credit_amount_cents) == (CreditNoteReason.OTHER, 100, 0)
    with pytest.raises(NotFoundFailure):
        CreditNoteCreate.from_body({**body, "invoice_id": "nope", "reason": "bad"})
    assert refused(CreditNoteCreate.from_body, {**body, "reason": "bad", "credit_amount_cents": "1"}) == {
        "reason": ["value_is_invalid"]
    }
    assert refused(CreditNoteCreate.from_body, {**body, "credit_amount_cents": "1"}) == {
        "credit_amount_cents": ["invalid_value"]
    }
    assert refused(CreditNoteCreate.from_body, {**body, "items": []}) == {"items": ["must_be_an_array"]}
    assert CreditNoteUpdate.from_body({"refund_status": "failed"}).refund_status == RefundStatus.FAILED
    assert refused(CreditNoteUpdate.from_body, {"refund_status": "done"}) == {"refund_status": ["value_is_invalid"]}


@pytest.mark.django_db
def test_a_malformed_wallet_body_is_refused_before_the_customer_is_looked_up(tenant):
    response = tenant.client.post(
        "/api/v1/wallets", {"wallet": {"external_customer_id": "nobody", "rate_amount": "x"}}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["error_details"] == {"rate_amount": ["value_is_mandatory"]}
    response = tenant.client.post(
        "/api/v1/wallets", {"wallet": {"external_customer_id": "nobody", "rate_amount": "1"}}, format="json"
    )
    assert response.status_code == 404 and response.json()["code"] == "customer_not_found"
