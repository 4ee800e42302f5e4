"""Typed inputs of the subscription services (billing_project/core/inputs.py: `UNSET` is "not sent").

The API builds them from its input serializers' validated data (`subscriptions/api/serializers.py`),
the admin, the demo and other apps build them directly. Dates are as sent (RFC 3339 or a date, or
a datetime from inside bxb): the service reads them, refusing one outside 2000..2100 as
`invalid_date`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from billing_project.core.inputs import UNSET, Fields, Unset, built, one
from catalog.inputs import PlanOverrides
from customers.payment_choice import PaymentMethodInput, payment_method_input
from customers.section_choice import SectionChoiceInput, section_choice_input

_CHILDREN = built(  # of both bodies
    plan_overrides=one(PlanOverrides),
    payment_method=payment_method_input,
    invoice_custom_section=section_choice_input,
)


@dataclass(frozen=True)
class SubscriptionCreate(Fields):
    """Lago's `POST /subscriptions` body (None: not sent). `downgrade_timing` and
    `bill_past_periods` are bxb's own."""

    external_customer_id: str
    plan_code: str
    external_id: str
    name: str | None = None
    billing_time: str | None = None
    subscription_at: datetime | str | None = None
    ending_at: datetime | str | None = None
    plan_overrides: PlanOverrides | None = None
    on_termination_credit_note: str | None = None
    on_termination_invoice: str | None = None
    downgrade_timing: str | None = None
    bill_past_periods: bool | None = None
    payment_method: PaymentMethodInput | None = None
    billing_entity_code: str | None = None
    invoice_custom_section: SectionChoiceInput | None = None
    purchase_order_number: str | None = None

    nested_fields = _CHILDREN

    def given(self) -> set[str]:
        """The fields sent with a value: what a second POST for a pending subscription changes."""
        return {field.name for field in fields(self) if getattr(self, field.name) is not None}


@dataclass(frozen=True)
class SubscriptionUpdate(Fields):
    """Lago's `PUT /subscriptions/{external_id}` body: only the fields sent change (`ending_at`
    sent as null removes the end)."""

    name: str | Unset | None = UNSET
    subscription_at: datetime | str | Unset | None = UNSET
    ending_at: datetime | str | Unset | None = UNSET
    plan_overrides: PlanOverrides | Unset | None = UNSET
    on_termination_credit_note: str | Unset | None = UNSET
    on_termination_invoice: str | Unset | None = UNSET
    payment_method: PaymentMethodInput | Unset | None = UNSET
    billing_entity_code: str | Unset | None = UNSET
    invoice_custom_section: SectionChoiceInput | None = None
    purchase_order_number: str | Unset | None = UNSET

    nested_fields = _CHILDREN
