"""One-off invoices of add-ons (`POST /invoices`, docs/billing-semantics.md §6.6): finalized at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing_project.core import bounds
from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.money import exponent, is_currency, round_cents
from catalog.models import AddOn
from customers import services as customer_services
from customers.entities import billing_entity_get
from customers.models import Organization
from customers.payment_choice import PaymentMethodInput, payment_method_choose
from customers.section_choice import SectionChoiceInput, one_off_sections, section_choice
from invoicing.models import Fee, FeeType, Invoice, InvoiceType
from invoicing.services import lifecycle
from invoicing.services.taxes import TaxResolver
from invoicing.services.totals import snapshots

# A one-off fee's units: at most this many (the amount itself is bounded by MAX_AMOUNT_CENTS).
MAX_UNITS = Decimal(10) ** 12


def _decimal(value: Any, field: str, errors: dict[str, list[str]], *, maximum: Decimal) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool | float):
        errors.setdefault(field, []).append("value_is_invalid")
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.setdefault(field, []).append("value_is_invalid")
        return None
    if not number.is_finite() or number < 0 or number > maximum:
        errors.setdefault(field, []).append("value_is_invalid")
        return None
    return number


def _boundary(value: Any, field: str, errors: dict[str, list[str]]) -> str | None:
    """A fee's `from_datetime` / `to_datetime`: absent, or a real date-time within 2000..2100,
    stored in RFC 3339 (UTC); `not-a-date` or `2024-02-30` is `invalid_date`."""
    if value is None:
        return None
    parsed = bounds.client_datetime(value)
    if parsed is None:
        errors.setdefault(field, []).append("invalid_date")
        return None
    return bounds.rfc3339(parsed)


def invoice_create_one_off(
    organization: Organization,
    *,
    external_customer_id: str,
    currency: str | None = None,
    fees: list[dict[str, Any]],
    purchase_order_number: str = "",
    payment_method: PaymentMethodInput | None = None,
    billing_entity_code: str | None = None,
    invoice_custom_section: SectionChoiceInput | None = None,
    now: dt.datetime | None = None,
) -> Invoice:
    """Each fee is `unit_amount_cents` (default: the add-on's amount) × `units`, rounded once.
    `payment_method`: how this invoice is collected (docs/payments.md §12), checked against the
    customer's saved methods before anything is written. `billing_entity_code`: the entity that
    bills it (else the customer's); `invoice_custom_section`: the sections it prints (Lago's rule,
    `customers.section_choice.one_off_sections`); both read (404 on an unknown code) before any write."""
    now = now or timezone.now()
    with transaction.atomic():
        customer = lifecycle.customer_locked(organization, external_customer_id)
        errors: dict[str, list[str]] = {}
        currency = currency or customer.currency or organization.default_currency
        if not is_currency(currency):
            raise ValidationFailure.single("currency", "value_is_invalid")
        if not fees:
            raise ValidationFailure.single("fees", "value_is_mandatory")
        choice = payment_method_choose(customer, payment_method)
        entity = billing_entity_get(organization, billing_entity_code) if billing_entity_code else None
        sections = one_off_sections(section_choice(organization, invoice_custom_section))
        codes = [str(f.get("add_on_code") or "") for f in fees if isinstance(f, dict)]
        add_ons = {
            a.code: a for a in AddOn.objects.filter(organization=organization, code__in=codes, deleted_at__isnull=True)
        }
        resolver = TaxResolver(organization, customer)
        invoice = lifecycle.invoice_new(
            organization,
            customer,
            InvoiceType.ONE_OFF,
            currency,
            lifecycle.local_today(customer, now),
            purchase_order_number=purchase_order_number or "",
            billing_entity=entity,
            **choice.fields(),
            **sections.fields(),
        )
        rows: list[Fee] = []
        taxes: dict = {}
        for index, item in enumerate(fees):
            if not isinstance(item, dict):
                errors.setdefault("fees", []).append("value_is_invalid")
                continue
            add_on = add_ons.get(str(item.get("add_on_code") or ""))
            if add_on is None:
                raise NotFoundFailure("add_on")
            units = _decimal(item.get("units", 1), "units", errors, maximum=MAX_UNITS)
            unit_cents = _decimal(
                item.get("unit_amount_cents", add_on.amount_cents),
                "unit_amount_cents",
                errors,
                maximum=Decimal(bounds.MAX_AMOUNT_CENTS),
            )
            from_datetime = _boundary(item.get("from_datetime"), "from_datetime", errors)
            to_datetime = _boundary(item.get("to_datetime"), "to_datetime", errors)
            if from_datetime and to_datetime and to_datetime < from_datetime:
                errors.setdefault("to_datetime", []).append("invalid_date")
            if units is None or unit_cents is None:
                continue
            precise = unit_cents * units
            if precise > bounds.MAX_AMOUNT_CENTS:
                errors.setdefault("units", []).append("value_is_invalid")
                continue
            amount_cents = round_cents(precise)
            fee = Fee(
                organization=organization,
                customer=customer,
                add_on=add_on,
                fee_type=FeeType.ADD_ON,
                invoice_display_name=item.get("invoice_display_name") or add_on.invoice_display_name or add_on.name,
                description=item.get("description") or add_on.description or "",
                currency=currency,
                units=units,
                total_aggregated_units=units,
                unit_amount_cents=round_cents(unit_cents),
                precise_unit_amount=unit_cents.scaleb(-exponent(currency)),
                amount_cents=amount_cents,
                precise_amount_cents=precise.quantize(Decimal("0.00001")),
                properties={
                    "from_datetime": from_datetime,
                    "to_datetime": to_datetime,
                    "position": index,
                },
            )
            tax_codes = item.get("tax_codes")
            if tax_codes is not None and not isinstance(tax_codes, list):
                errors.setdefault("tax_codes", []).append("value_is_invalid")
                continue
            if tax_codes:
                found = resolver.for_codes([str(c) for c in tax_codes])
                if len(found) != len(set(tax_codes)):
                    raise NotFoundFailure("tax")
            taxes[fee.id] = snapshots(resolver.fee_taxes(fee, tax_codes=[str(c) for c in tax_codes or []]))
            rows.append(fee)
        if errors:
            raise ValidationFailure(errors)
        customer_services.customer_default_currency_set(customer, currency)
        invoice.save()
        lifecycle.finalize_in_place(invoice, rows, taxes, now=now, plan_ids={})
    return invoice
