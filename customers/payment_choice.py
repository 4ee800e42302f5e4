"""The payment method chosen for a subscription, a one-off invoice, a wallet, a wallet top-up or a
recurring top-up rule: Lago's `payment_method` object (docs/payments.md §12).

    {"payment_method_type": "provider" | "manual", "payment_method_id": <a saved method's lago_id> | null}

* `provider` without an id: collect through the payment provider with the method the level below
  decides (for a wallet top-up: its rule's, then its wallet's), in the end the customer's default;
* `provider` with an id: collect with that saved method, which must be one of this customer's;
* `manual`: never charge automatically; the invoice stays `pending` until it is paid by hand (a
  manual payment, the hosted payment page).

The rows that hold a choice carry `PaymentMethodChoiceFields`; the services that write them check
what the client sent with `payment_method_choose`, which refuses anything else with Lago's 422
`{"payment_method": ["invalid_payment_method"]}` before anything is stored. Which method then
collects an invoice is decided in one place, `payments.services.method_choice.payment_method_determine`.

The saved methods themselves live in `payments`, above this app: whether an id is one of the
customer's methods is asked through the typed hook `customers.hooks.customer_payment_methods`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from django.db import models

from billing_project.core.api.shapes import Choices, Uuid
from billing_project.core.errors import ValidationFailure
from billing_project.core.inputs import UNSET, Fields, Unset
from customers.hooks import customer_payment_methods

if TYPE_CHECKING:
    from customers.models import Customer

INVALID = "invalid_payment_method"  # Lago's code (PaymentMethods::ValidateService)


class PaymentMethodType(models.TextChoices):
    PROVIDER = "provider"
    MANUAL = "manual"


class PaymentMethodChoiceFields(models.Model):
    """The two columns of a stored choice (Lago's `payment_method_type`, `payment_method_id`).

    `payment_method_id` is the `lago_id` of one of the customer's saved methods (payments'
    `PaymentMethod`), kept as a plain id: a method removed later is not replaced by another one
    (its invoices wait to be paid by hand, as in Lago), and the row is not rewritten."""

    payment_method_type = models.CharField(
        max_length=16, choices=PaymentMethodType.choices, default=PaymentMethodType.PROVIDER
    )
    payment_method_id = models.UUIDField(
        null=True, blank=True, help_text="A saved payment method of the customer; empty: the default one."
    )

    class Meta:
        abstract = True

    @property
    def payment_method_choice(self) -> PaymentMethodChoice:
        return PaymentMethodChoice(self.payment_method_type, self.payment_method_id)


class PaymentMethodChoiceShape(TypedDict):
    """Lago's `payment_method` object of a subscription, wallet, wallet transaction or recurring rule."""

    payment_method_id: Uuid | None
    payment_method_type: Annotated[str, Choices(tuple(PaymentMethodType.values))]


@dataclass(frozen=True)
class PaymentMethodChoice:
    """A checked choice, as stored."""

    payment_method_type: str = PaymentMethodType.PROVIDER
    payment_method_id: uuid.UUID | None = None

    @property
    def manual(self) -> bool:
        return self.payment_method_type == PaymentMethodType.MANUAL

    @property
    def inherits(self) -> bool:
        """`provider` without a method: the next level (in the end the customer's default) decides."""
        return not self.manual and self.payment_method_id is None

    def fields(self) -> dict[str, Any]:
        """The model fields of `PaymentMethodChoiceFields`, to save or to copy onto another row."""
        return {"payment_method_type": str(self.payment_method_type), "payment_method_id": self.payment_method_id}

    def payload(self) -> PaymentMethodChoiceShape:
        return {
            "payment_method_id": str(self.payment_method_id) if self.payment_method_id else None,
            "payment_method_type": str(self.payment_method_type),
        }

    def __str__(self) -> str:
        if self.manual:
            return "manual (no automatic collection)"
        return f"provider: {self.payment_method_id}" if self.payment_method_id else "provider: default method"


PROVIDER_DEFAULT = PaymentMethodChoice()


@dataclass(frozen=True)
class PaymentMethodInput(Fields):
    """Lago's `payment_method` object as sent (`UNSET`: the key was not sent)."""

    payment_method_type: str | Unset | None = UNSET
    payment_method_id: str | uuid.UUID | Unset | None = UNSET


def payment_method_input(data: Mapping[str, Any], name: str = "payment_method") -> PaymentMethodInput | Unset | None:
    """The `payment_method` object of validated input data; null and not sent pass through."""
    value = data.get(name, UNSET)
    if isinstance(value, Mapping):
        return PaymentMethodInput.from_validated(value)
    if value is UNSET or value is None:
        return value
    raise ValidationFailure.single(name, INVALID)  # not an object


def payment_method_sent(data: Mapping[str, Any], name: str = "payment_method") -> PaymentMethodInput | None:
    """`payment_method_input`, None when not sent or null (an override used once)."""
    sent = payment_method_input(data, name)
    return sent if isinstance(sent, PaymentMethodInput) else None


def payment_method_choose(
    customer: Customer,
    sent: PaymentMethodInput | Unset | None,
    *,
    current: PaymentMethodChoice = PROVIDER_DEFAULT,
) -> PaymentMethodChoice:
    """The choice after the client sent `sent`, checked against the customer's saved methods.

    Not sent (or null): `current` stays. A key sent changes that field only (Lago's update
    semantics); `manual` drops the method (a manual choice names no method). Refused with 422
    `{"payment_method": ["invalid_payment_method"]}`: an unknown type, an id without a type, an
    id with `manual`, and an id that is not one of this customer's saved methods (another
    customer's, another organization's, a removed one, or not an id at all).
    """
    if sent is UNSET or sent is None:
        return current
    kind = current.payment_method_type if sent.payment_method_type is UNSET else sent.payment_method_type
    raw_id = sent.payment_method_id
    if sent.payment_method_type in (UNSET, None, "") and raw_id not in (UNSET, None, ""):
        raise ValidationFailure.single("payment_method", INVALID)  # an id needs its type
    if kind in (None, ""):
        kind = PaymentMethodType.PROVIDER
    if kind not in PaymentMethodType.values:
        raise ValidationFailure.single("payment_method", INVALID)
    if kind == PaymentMethodType.MANUAL:
        if raw_id not in (UNSET, None, ""):
            raise ValidationFailure.single("payment_method", INVALID)
        return PaymentMethodChoice(PaymentMethodType.MANUAL, None)
    if raw_id is UNSET:
        method_id = current.payment_method_id
    elif raw_id in (None, ""):
        method_id = None
    else:
        try:
            method_id = raw_id if isinstance(raw_id, uuid.UUID) else uuid.UUID(str(raw_id))
        except ValueError:
            raise ValidationFailure.single("payment_method", INVALID) from None
    if raw_id not in (UNSET, None, "") and method_id is not None:
        if not customer_payment_methods.get().owns(customer, method_id):
            raise ValidationFailure.single("payment_method", INVALID)
    return PaymentMethodChoice(PaymentMethodType.PROVIDER, method_id)


def payment_method_description(row: PaymentMethodChoiceFields, organization_id: Any) -> str:
    """The stored choice for the admin: `manual…`, `provider: default method`, or the saved method
    by provider, type, brand and last four digits (`removed` when it no longer exists)."""
    choice = row.payment_method_choice
    if choice.manual or choice.payment_method_id is None:
        return str(choice)
    label = customer_payment_methods.get().labels(organization_id, [choice.payment_method_id])
    found = label.get(choice.payment_method_id)
    return f"provider: {found}" if found else f"provider: {choice.payment_method_id} (removed: nothing is charged)"
