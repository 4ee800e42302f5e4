"""Lago's invoice and fee objects (docs/lago-compatibility.md §1.3, §3), for the API and webhooks.

Plain functions returning JSON-able dicts: money as integers, decimals as strings, never floats
(except the fields Lago's client types as float, such as `taxes_rate`, which are rendered from
exact decimals). Each returns its shape (a `TypedDict`: `InvoiceShape`, `FeeShape`...), from which
the OpenAPI components (`InvoiceOutput`, `FeeOutput`...) are derived (`invoicing.api.serializers`,
billing_project/core/api/shapes.py): one definition for the answer and its documentation.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, NamedTuple, NotRequired, TypedDict
from uuid import UUID

from billing_project.core.api.shapes import Choices, Component, Date, DateTime, Help, Uuid, utc_iso
from billing_project.core.money import exponent
from catalog.models import Charge
from customers.entities import document_entity_code
from customers.representation import CustomerShape, customer_payload
from invoicing.billing.pricing import decimal_string
from invoicing.models import Fee, FeeAppliedTax, Invoice, InvoiceAppliedTax, InvoiceSubscription, amount_left_to_pay
from subscriptions.periods import ONE_SECOND
from subscriptions.representation import SubscriptionOutput, subscription_payload

_EXACT = Help("An exact decimal, as a string.")
_RATE = Help("A percentage, rendered from the exact decimal.")


# The fields every applied tax has (of an invoice, a fee, a credit note).
class AppliedTaxShape(TypedDict):
    lago_tax_id: Uuid | None
    tax_name: str
    tax_code: str
    tax_rate: Annotated[float, _RATE]
    tax_description: str | None
    amount_cents: int
    amount_currency: str


class InvoiceAppliedTaxShape(AppliedTaxShape):
    lago_id: Uuid
    lago_invoice_id: Uuid
    fees_amount_cents: int
    created_at: DateTime


class FeeAppliedTaxShape(AppliedTaxShape):
    lago_id: Uuid
    lago_fee_id: Uuid
    created_at: DateTime


class BillingPeriodShape(TypedDict):
    lago_subscription_id: Uuid
    external_subscription_id: str
    lago_plan_id: Uuid
    subscription_from_datetime: DateTime
    subscription_to_datetime: Annotated[DateTime, Help("Inclusive: the last second of the period.")]
    charges_from_datetime: DateTime
    charges_to_datetime: Annotated[DateTime, Help("Inclusive: the last second of the period.")]
    invoicing_reason: str


class FeeItemShape(TypedDict):
    type: str
    code: str
    name: str | None
    description: str | None
    invoice_display_name: str | None
    filters: dict[str, Any] | None
    filter_invoice_display_name: str | None
    lago_item_id: str
    item_type: Annotated[str, Choices(("BillableMetric", "AddOn", "Subscription", "WalletTransaction"))]
    grouped_by: dict[str, Any]


class FeeShape(TypedDict):
    lago_id: Uuid
    lago_charge_id: Uuid | None
    lago_charge_filter_id: Uuid | None
    lago_fixed_charge_id: Uuid | None
    lago_invoice_id: Uuid | None
    lago_true_up_fee_id: Uuid | None
    lago_true_up_parent_fee_id: Uuid | None
    lago_subscription_id: Uuid | None
    external_subscription_id: str | None
    lago_customer_id: Uuid
    external_customer_id: str
    item: FeeItemShape
    pay_in_advance: bool
    invoiceable: bool
    amount_cents: int
    amount_currency: str
    precise_amount: Annotated[str, _EXACT]
    precise_total_amount: Annotated[str, _EXACT]
    taxes_amount_cents: int
    taxes_precise_amount: Annotated[str, _EXACT]
    taxes_rate: Annotated[float, _RATE]
    total_amount_cents: int
    total_amount_currency: str
    units: Annotated[str, _EXACT]
    total_aggregated_units: Annotated[str, _EXACT]
    precise_unit_amount: Annotated[str, _EXACT]
    unit_amount_cents: int
    precise_coupons_amount_cents: Annotated[str, _EXACT]
    sub_total_excluding_taxes_amount_cents: int
    sub_total_excluding_taxes_precise_amount_cents: Annotated[str, _EXACT]
    events_count: int
    payment_status: str
    created_at: DateTime
    succeeded_at: DateTime | None
    failed_at: DateTime | None
    refunded_at: DateTime | None
    from_date: str | None
    to_date: str | None
    event_transaction_id: str | None
    amount_details: dict[str, Any]
    self_billed: bool
    pricing_unit_details: dict[str, Any] | None
    presentation_breakdowns: list[Any]
    applied_taxes: list[FeeAppliedTaxShape]


class InvoiceCreditItemShape(TypedDict):
    lago_item_id: str | None
    type: str | None
    code: str | None
    name: str | None


class InvoiceCreditInvoiceShape(TypedDict):
    lago_id: Uuid
    payment_status: str


class InvoiceCreditShape(TypedDict):
    lago_id: str | None
    amount_cents: int
    amount_currency: str
    before_taxes: bool
    item: InvoiceCreditItemShape
    invoice: InvoiceCreditInvoiceShape


class InvoiceBaseShape(TypedDict):
    """The invoice without its customer, taxes, credits or fees: Lago's invoice as a payment request
    lists it."""

    lago_id: Uuid
    sequential_id: int | None
    billing_entity_code: str
    number: str
    issuing_date: Date
    payment_due_date: Date
    payment_dispute_lost_at: DateTime | None
    payment_overdue: bool
    net_payment_term: int
    invoice_type: str
    status: str
    payment_status: str
    currency: str
    fees_amount_cents: int
    coupons_amount_cents: int
    progressive_billing_credit_amount_cents: int
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    taxes_rate: Annotated[float, _RATE]
    sub_total_including_taxes_amount_cents: int
    credit_notes_amount_cents: int
    prepaid_credit_amount_cents: int
    prepaid_granted_credit_amount_cents: int
    prepaid_purchased_credit_amount_cents: int
    total_amount_cents: int
    total_paid_amount_cents: int
    total_due_amount_cents: int
    total_offsetted_credit_note_amount_cents: int
    version_number: int
    self_billed: bool
    voided_at: DateTime | None
    created_at: DateTime
    updated_at: DateTime
    purchase_order_number: str | None
    file_url: str | None
    xml_url: str | None


class InvoiceShape(InvoiceBaseShape):
    customer: CustomerShape
    metadata: list[dict[str, Any]]
    applied_taxes: list[InvoiceAppliedTaxShape]
    applied_usage_thresholds: list[Any]
    applied_invoice_custom_sections: list[Any]
    error_details: list[Any]
    credits: list[InvoiceCreditShape]
    billing_periods: NotRequired[list[BillingPeriodShape]]
    subscriptions: NotRequired[
        Annotated[list[dict[str, Any]], Component(SubscriptionOutput), Help("Lago's subscription objects")]
    ]
    fees: NotRequired[list[FeeShape]]


def number(value: Decimal | int | None) -> float | int:
    """A rate Lago's client types as float: rendered from the exact decimal."""
    if value is None:
        return 0
    value = Decimal(value)
    return int(value) if value == value.to_integral() else float(value)


def applied_tax_fields(row: Any, description: str | None) -> AppliedTaxShape:
    """The fields every applied tax row renders alike (`AppliedTaxShape`), its `tax_description`
    given (a credit note's renders an empty one as null)."""
    return {
        "lago_tax_id": str(row.tax_id) if row.tax_id else None,
        "tax_name": row.tax_name,
        "tax_code": row.tax_code,
        "tax_rate": number(row.tax_rate),
        "tax_description": description,
        "amount_cents": row.amount_cents,
        "amount_currency": row.currency,
    }


class InvoiceAppliedTaxRow(NamedTuple):
    """An invoice's applied tax as a page of invoices reads it (`selectors.customer_invoice_page`):
    the columns `applied_tax_payload` renders, with the values an `InvoiceAppliedTax` would hold
    (the same converters), without building 20 model instances per page."""

    id: UUID
    invoice_id: UUID
    tax_id: UUID | None
    tax_name: str
    tax_code: str
    tax_rate: Decimal
    tax_description: str | None
    amount_cents: int
    currency: str
    fees_amount_cents: int
    created_at: datetime


class InvoiceListRow(NamedTuple):
    """An invoice as a page of a list reads it (`selectors.customer_invoice_page`): the columns
    `invoice_payload(with_fees=False)` renders, each holding the value an `Invoice` would (the
    same converters; its JSON columns decoded as `JSONField` decodes them), plus its billing
    entity's code (`entity_code`, joined; None when it has no entity yet: its customer's), its
    file's name and its customer: no model instance built per invoice."""

    id: UUID
    customer_id: UUID
    billing_entity_id: UUID | None
    entity_code: str | None
    sequential_id: int | None
    number: str
    issuing_date: date
    payment_due_date: date
    payment_dispute_lost_at: datetime | None
    payment_overdue: bool
    net_payment_term: int
    invoice_type: str
    status: str
    payment_status: str
    currency: str
    fees_amount_cents: int
    coupons_amount_cents: int
    progressive_billing_credit_amount_cents: int
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    taxes_rate: Decimal
    sub_total_including_taxes_amount_cents: int
    credit_notes_amount_cents: int
    prepaid_credit_amount_cents: int
    total_amount_cents: int
    total_paid_amount_cents: int
    total_offsetted_credit_note_amount_cents: int
    version_number: int
    voided_at: datetime | None
    created_at: datetime
    updated_at: datetime
    purchase_order_number: str
    file_name: str | None
    metadata: Any
    credits: Any
    applied_invoice_custom_sections: Any
    customer: Any  # its `Customer`

    @property
    def total_due_amount_cents(self) -> int:
        return amount_left_to_pay(self)


def applied_tax_payload(row: InvoiceAppliedTax | InvoiceAppliedTaxRow) -> InvoiceAppliedTaxShape:
    return {
        "lago_id": str(row.id),
        "lago_invoice_id": str(row.invoice_id),
        **applied_tax_fields(row, row.tax_description),
        "fees_amount_cents": row.fees_amount_cents,
        "created_at": utc_iso(row.created_at),
    }


def fee_applied_tax_payload(row: FeeAppliedTax) -> FeeAppliedTaxShape:
    return {
        "lago_id": str(row.id),
        "lago_fee_id": str(row.fee_id),
        **applied_tax_fields(row, row.tax_description),
        "created_at": utc_iso(row.created_at),
    }


def billing_period_payload(row: InvoiceSubscription) -> BillingPeriodShape:
    sub = row.subscription
    return {
        "lago_subscription_id": str(row.subscription_id),
        "external_subscription_id": sub.external_id,
        "lago_plan_id": str(sub.plan_id),
        "subscription_from_datetime": utc_iso(row.from_datetime),
        "subscription_to_datetime": utc_iso(
            row.to_datetime - ONE_SECOND if row.to_datetime > row.from_datetime else row.to_datetime
        ),
        "charges_from_datetime": utc_iso(row.charges_from_datetime),
        "charges_to_datetime": utc_iso(
            row.charges_to_datetime - ONE_SECOND
            if row.charges_to_datetime > row.charges_from_datetime
            else row.charges_to_datetime
        ),
        "invoicing_reason": row.invoicing_reason,
    }


def _item(fee: Fee) -> FeeItemShape:
    if fee.fee_type in ("charge",) and fee.charge_id:
        charge = fee.charge
        metric = charge.billable_metric
        filter_name = fee.charge_filter.invoice_display_name if fee.charge_filter_id else None
        return {
            "type": "charge",
            "code": metric.code,
            "name": metric.name,
            "description": metric.description,
            "invoice_display_name": fee.invoice_display_name,
            "filters": (fee.properties or {}).get("filter_values"),
            "filter_invoice_display_name": filter_name,
            "lago_item_id": str(metric.id),
            "item_type": "BillableMetric",
            "grouped_by": fee.grouped_by or {},
        }
    if fee.fee_type == "add_on" and fee.add_on_id:
        return {
            "type": "add_on",
            "code": fee.add_on.code,
            "name": fee.add_on.name,
            "description": fee.description or fee.add_on.description,
            "invoice_display_name": fee.invoice_display_name,
            "filters": None,
            "filter_invoice_display_name": None,
            "lago_item_id": str(fee.add_on_id),
            "item_type": "AddOn",
            "grouped_by": {},
        }
    fixed_charge = fee.fixed_charge if fee.fee_type == "fixed_charge" and fee.fixed_charge_id else None
    if fixed_charge is not None:
        # Lago's item for a fixed charge fee is its add-on.
        add_on = fixed_charge.add_on
        return {
            "type": "fixed_charge",
            "code": add_on.code,
            "name": add_on.name,
            "description": add_on.description,
            "invoice_display_name": fee.invoice_display_name,
            "filters": None,
            "filter_invoice_display_name": None,
            "lago_item_id": str(add_on.id),
            "item_type": "AddOn",
            "grouped_by": {},
        }
    if fee.fee_type in ("subscription", "commitment") and fee.subscription_id:
        # Lago's item for a plan's fee and for a minimum-commitment true-up is the subscription.
        plan = fee.subscription.plan
        return {
            "type": fee.fee_type,
            "code": plan.code,
            "name": plan.name,
            "description": plan.description,
            "invoice_display_name": fee.invoice_display_name,
            "filters": None,
            "filter_invoice_display_name": None,
            "lago_item_id": str(fee.subscription_id),
            "item_type": "Subscription",
            "grouped_by": {},
        }
    if fee.fee_type == "credit":
        # Lago's item for prepaid credits is the wallet transaction the credit invoice bills.
        return {
            "type": "credit",
            "code": "credit",
            "name": fee.invoice_display_name or "credit",
            "description": "credit",
            "invoice_display_name": fee.invoice_display_name or "credit",
            "filters": None,
            "filter_invoice_display_name": None,
            "lago_item_id": (fee.properties or {}).get("wallet_transaction_id") or str(fee.id),
            "item_type": "WalletTransaction",
            "grouped_by": {},
        }
    return {
        "type": fee.fee_type,
        "code": fee.fee_type,
        "name": fee.invoice_display_name,
        "description": fee.description,
        "invoice_display_name": fee.invoice_display_name,
        "filters": None,
        "filter_invoice_display_name": None,
        "lago_item_id": str(fee.id),
        "item_type": _LAGO_ITEM_TYPES.get(fee.fee_type, "Subscription"),
        "grouped_by": {},
    }


# Lago's `item.item_type` per fee type (its `Fee#item_type`): the class of the billed item.
_LAGO_ITEM_TYPES = {
    "charge": "BillableMetric",
    "add_on": "AddOn",
    "fixed_charge": "AddOn",
    "credit": "WalletTransaction",
}


# The relations `fee_payload` reads (with the fee's `applied_taxes`): selected with the fees.
FEE_RELATED = (
    "charge__billable_metric",
    "charge_filter",
    "add_on",
    "fixed_charge__add_on",
    "subscription__plan",
    "customer",
)


def fee_payload(fee: Fee, *, applied_taxes: list[FeeAppliedTax] | None = None) -> FeeShape:
    currency = fee.currency
    exp = exponent(currency)
    props = fee.properties or {}
    sub_total_precise = Decimal(fee.precise_amount_cents) - Decimal(fee.precise_coupons_amount_cents)
    taxes = applied_taxes if applied_taxes is not None else list(fee.applied_taxes.all())
    return {
        "lago_id": str(fee.id),
        "lago_charge_id": str(fee.charge_id) if fee.charge_id else None,
        "lago_charge_filter_id": str(fee.charge_filter_id) if fee.charge_filter_id else None,
        "lago_fixed_charge_id": str(fee.fixed_charge_id) if fee.fixed_charge_id else None,
        "lago_invoice_id": str(fee.invoice_id) if fee.invoice_id else None,
        "lago_true_up_fee_id": None,
        "lago_true_up_parent_fee_id": str(fee.true_up_parent_fee_id) if fee.true_up_parent_fee_id else None,
        "lago_subscription_id": str(fee.subscription_id) if fee.subscription_id else None,
        "external_subscription_id": fee.subscription.external_id if fee.subscription_id else None,
        "lago_customer_id": str(fee.customer_id),
        "external_customer_id": fee.customer.external_id,
        "item": _item(fee),
        "pay_in_advance": fee.pay_in_advance,
        "invoiceable": fee.invoiceable,
        "amount_cents": fee.amount_cents,
        "amount_currency": currency,
        "precise_amount": decimal_string(Decimal(fee.precise_amount_cents).scaleb(-exp)),
        "precise_total_amount": decimal_string(
            (Decimal(fee.precise_amount_cents) + Decimal(fee.taxes_precise_amount_cents)).scaleb(-exp)
        ),
        "taxes_amount_cents": fee.taxes_amount_cents,
        "taxes_precise_amount": decimal_string(Decimal(fee.taxes_precise_amount_cents).scaleb(-exp)),
        "taxes_rate": number(fee.taxes_rate),
        "total_amount_cents": fee.total_amount_cents,
        "total_amount_currency": currency,
        "units": decimal_string(fee.units),
        "total_aggregated_units": decimal_string(fee.total_aggregated_units),
        "precise_unit_amount": decimal_string(fee.precise_unit_amount),
        "unit_amount_cents": fee.unit_amount_cents,
        "precise_coupons_amount_cents": decimal_string(fee.precise_coupons_amount_cents),
        "sub_total_excluding_taxes_amount_cents": int(fee.amount_cents)
        - int(Decimal(fee.precise_coupons_amount_cents).to_integral_value()),
        "sub_total_excluding_taxes_precise_amount_cents": decimal_string(sub_total_precise),
        "events_count": fee.events_count,
        "payment_status": fee.payment_status,
        "created_at": utc_iso(fee.created_at),
        "succeeded_at": utc_iso(fee.succeeded_at),
        "failed_at": utc_iso(fee.failed_at),
        "refunded_at": utc_iso(fee.refunded_at),
        "from_date": props.get("from_datetime") or props.get("charges_from_datetime"),
        "to_date": props.get("to_datetime") or props.get("charges_to_datetime"),
        "event_transaction_id": fee.event_transaction_id or None,
        "amount_details": fee.amount_details or {},
        "self_billed": False,
        "pricing_unit_details": None,
        "presentation_breakdowns": [],
        "applied_taxes": [fee_applied_tax_payload(t) for t in taxes],
    }


def _entity_code(invoice: Invoice | InvoiceListRow) -> str:
    """The invoice's entity: joined where invoices are listed (a subscription's or a one-off
    invoice's own entity need not be its customer's), else read through its customer."""
    if isinstance(invoice, InvoiceListRow):
        if invoice.entity_code is not None:
            return invoice.entity_code
        return document_entity_code(None, invoice.customer)
    if invoice.billing_entity_id is not None and Invoice.billing_entity.is_cached(invoice):
        return str(invoice.billing_entity.code)  # type: ignore[union-attr]
    return document_entity_code(invoice.billing_entity_id, invoice.customer)


def invoice_base_payload(invoice: Invoice | InvoiceListRow) -> InvoiceBaseShape:
    return {
        "lago_id": str(invoice.id),
        "sequential_id": invoice.sequential_id,
        "billing_entity_code": _entity_code(invoice),
        "number": invoice.number,
        "issuing_date": invoice.issuing_date.isoformat(),
        "payment_due_date": invoice.payment_due_date.isoformat(),
        "payment_dispute_lost_at": utc_iso(invoice.payment_dispute_lost_at),
        "payment_overdue": invoice.payment_overdue,
        "net_payment_term": invoice.net_payment_term,
        "invoice_type": invoice.invoice_type,
        "status": invoice.status,
        "payment_status": invoice.payment_status,
        "currency": invoice.currency,
        "fees_amount_cents": invoice.fees_amount_cents,
        "coupons_amount_cents": invoice.coupons_amount_cents,
        "progressive_billing_credit_amount_cents": invoice.progressive_billing_credit_amount_cents,
        "sub_total_excluding_taxes_amount_cents": invoice.sub_total_excluding_taxes_amount_cents,
        "taxes_amount_cents": invoice.taxes_amount_cents,
        "taxes_rate": number(invoice.taxes_rate),
        "sub_total_including_taxes_amount_cents": invoice.sub_total_including_taxes_amount_cents,
        "credit_notes_amount_cents": invoice.credit_notes_amount_cents,
        "prepaid_credit_amount_cents": invoice.prepaid_credit_amount_cents,
        "prepaid_granted_credit_amount_cents": 0,
        "prepaid_purchased_credit_amount_cents": invoice.prepaid_credit_amount_cents,
        "total_amount_cents": invoice.total_amount_cents,
        "total_paid_amount_cents": invoice.total_paid_amount_cents,
        "total_due_amount_cents": invoice.total_due_amount_cents,
        "total_offsetted_credit_note_amount_cents": invoice.total_offsetted_credit_note_amount_cents,
        "version_number": invoice.version_number,
        "self_billed": False,
        "voided_at": utc_iso(invoice.voided_at),
        "created_at": utc_iso(invoice.created_at),
        "updated_at": utc_iso(invoice.updated_at),
        "purchase_order_number": invoice.purchase_order_number or None,
        "file_url": invoice_file_url(invoice),
        "xml_url": None,
    }


def invoice_payload(
    invoice: Invoice | InvoiceListRow,
    *,
    with_fees: bool = True,
    customers: dict[Any, CustomerShape] | None = None,
    applied_taxes: list[InvoiceAppliedTax] | list[InvoiceAppliedTaxRow] | None = None,
    periods: list[InvoiceSubscription] | None = None,
    fees: list[Fee] | None = None,
    fee_taxes: dict[Any, list[FeeAppliedTax]] | None = None,
) -> InvoiceShape:
    """Lago's invoice object. `customers` (customer id → its payload) lets a list render each
    customer once, however many of its invoices the page holds; `applied_taxes`, when read for a
    whole page (`selectors.invoice_list_related`), saves the per-invoice query; `periods` (its
    `invoice_subscriptions` with their subscriptions) and `fees` (with `FEE_RELATED` and their
    applied taxes), when the caller read them (`selectors.invoice_represented`); `fee_taxes` (fee id
    → its applied taxes), when read with the fees rather than prefetched on them."""
    if applied_taxes is None:
        assert isinstance(invoice, Invoice), "a list's row comes with its applied taxes"
        applied_taxes = list(invoice.applied_taxes.all())
    if customers is None:
        customer = customer_payload(invoice.customer)
    else:
        known = customers.get(invoice.customer_id)
        if known is None:
            known = customers[invoice.customer_id] = customer_payload(invoice.customer)
        customer = known
    payload: InvoiceShape = {
        **invoice_base_payload(invoice),
        "customer": customer,
        "metadata": invoice.metadata or [],
        "applied_taxes": [applied_tax_payload(t) for t in applied_taxes],
        "applied_usage_thresholds": [],
        "applied_invoice_custom_sections": [
            {
                "lago_id": section["lago_id"],
                "lago_invoice_id": str(invoice.id),
                "code": section["code"],
                "details": section["details"],
                "display_name": section["display_name"],
                "created_at": section["created_at"],
            }
            for section in invoice.applied_invoice_custom_sections or []
        ],
        "error_details": [],
        "credits": [
            {
                "lago_id": c.get("item_id"),
                "amount_cents": c.get("amount_cents", 0),
                "amount_currency": invoice.currency,
                "before_taxes": bool(c.get("before_taxes", True)),
                "item": {
                    "lago_item_id": c.get("item_id"),
                    "type": c.get("item_type"),
                    "code": c.get("code"),
                    "name": c.get("name"),
                },
                "invoice": {"lago_id": str(invoice.id), "payment_status": invoice.payment_status},
            }
            for c in (invoice.credits or [])
        ],
    }
    if with_fees:
        assert isinstance(invoice, Invoice), "a list's row is rendered without fees"
        periods_rows = (
            periods
            if periods is not None
            else list(
                invoice.invoice_subscriptions.select_related(
                    "subscription__plan", "subscription__customer", "subscription__previous_subscription__plan"
                )
            )
        )
        payload["billing_periods"] = [billing_period_payload(r) for r in periods_rows]
        # Lago's full subscription object, once per subscription the invoice bills.
        subscriptions = {r.subscription_id: r.subscription for r in periods_rows}
        payload["subscriptions"] = [subscription_payload(sub) for sub in subscriptions.values()]
        if fees is None:
            fees = list(invoice.fees.select_related(*FEE_RELATED).prefetch_related("applied_taxes"))
        payload["fees"] = [
            fee_payload(f, applied_taxes=fee_taxes[f.pk] if fee_taxes is not None else None) for f in fees
        ]
    return payload


def invoice_file_url(invoice: Invoice | InvoiceListRow) -> str | None:
    name = invoice.file_name if isinstance(invoice, InvoiceListRow) else invoice.file.name
    if not name:
        return None
    from django.conf import settings

    base = getattr(settings, "PUBLIC_URL", "") or ""
    return (
        f"{base.rstrip('/')}/{settings.MEDIA_URL.strip('/')}/{name}"
        if base
        else f"/{settings.MEDIA_URL.strip('/')}/{name}"
    )


# --- customer usage (current, projected, past) ---------------------------------------------------

_PROJECTED = Help("Projected usage only (`GET /customers/{external_id}/projected_usage`).")


class UsageChargeShape(TypedDict):
    lago_id: Uuid
    code: str
    charge_model: str
    invoice_display_name: str | None


class UsageBillableMetricShape(TypedDict):
    lago_id: Uuid
    name: str
    code: str
    aggregation_type: str


class UsageFilterShape(TypedDict):
    invoice_display_name: str | None
    values: Annotated[dict[str, Any] | None, Help("The filter's values; null for usage no filter matched.")]
    units: Annotated[str, _EXACT]
    total_aggregated_units: Annotated[str, _EXACT]
    amount_cents: int
    events_count: int
    pricing_unit_details: NotRequired[dict[str, Any] | None]  # not on past usage
    presentation_breakdowns: NotRequired[list[Any]]  # not on past usage
    projected_units: NotRequired[Annotated[str, _PROJECTED]]
    projected_amount_cents: NotRequired[Annotated[int, _PROJECTED]]
    projected_presentation_breakdowns: NotRequired[Annotated[list[Any], _PROJECTED]]


class GroupedUsageShape(TypedDict):
    amount_cents: int
    events_count: int
    units: Annotated[str, _EXACT]
    total_aggregated_units: Annotated[str, _EXACT]
    grouped_by: dict[str, Any]
    filters: list[UsageFilterShape]
    pricing_unit_details: dict[str, Any] | None
    presentation_breakdowns: list[Any]
    projected_units: NotRequired[Annotated[str, _PROJECTED]]
    projected_amount_cents: NotRequired[Annotated[int, _PROJECTED]]
    projected_presentation_breakdowns: NotRequired[Annotated[list[Any], _PROJECTED]]


class ChargeUsageShape(TypedDict):
    units: Annotated[str, _EXACT]
    total_aggregated_units: Annotated[str, _EXACT]
    events_count: int
    amount_cents: int
    amount_currency: str
    pricing_unit_details: dict[str, Any] | None
    presentation_breakdowns: list[Any]
    charge: UsageChargeShape
    billable_metric: UsageBillableMetricShape
    filters: list[UsageFilterShape]
    grouped_usage: list[GroupedUsageShape]
    projected_units: NotRequired[Annotated[str, _PROJECTED]]
    projected_amount_cents: NotRequired[Annotated[int, _PROJECTED]]
    projected_presentation_breakdowns: NotRequired[Annotated[list[Any], _PROJECTED]]


class CustomerUsageShape(TypedDict):
    """Lago's `customer_usage` (current and past periods) and `customer_projected_usage`."""

    from_datetime: DateTime
    to_datetime: Annotated[DateTime, Help("Inclusive: the last second of the period.")]
    issuing_date: Date
    currency: str
    lago_invoice_id: Uuid | None
    amount_cents: int
    taxes_amount_cents: int
    total_amount_cents: int
    charges_usage: list[ChargeUsageShape]
    projected_amount_cents: NotRequired[Annotated[int, _PROJECTED]]


class UsageProjection(TypedDict):
    """The `projected_*` fields a projection adds to a usage entry (`invoicing/projection.py`)."""

    projected_units: str
    projected_amount_cents: int
    projected_presentation_breakdowns: list[Any]


def usage_filter_payload(
    *,
    invoice_display_name: str | None,
    values: dict[str, Any] | None,
    units: Decimal,
    total_aggregated_units: Decimal,
    amount_cents: int,
    events_count: int,
    breakdowns: bool = True,
    projection: UsageProjection | None = None,
) -> UsageFilterShape:
    """One filter's usage. `breakdowns`: with the `pricing_unit_details`/`presentation_breakdowns`
    keys (current usage; past usage has none)."""
    entry: UsageFilterShape = {
        "invoice_display_name": invoice_display_name,
        "values": values,
        "units": decimal_string(units),
        "total_aggregated_units": decimal_string(total_aggregated_units),
        "amount_cents": amount_cents,
        "events_count": events_count,
    }
    if breakdowns:
        entry["pricing_unit_details"] = None
        entry["presentation_breakdowns"] = []
    if projection is not None:
        entry.update(projection)
    return entry


def grouped_usage_payload(
    *,
    grouped_by: dict[str, Any],
    units: Decimal,
    total_aggregated_units: Decimal,
    amount_cents: int,
    events_count: int,
    filters: list[UsageFilterShape],
    projection: UsageProjection | None = None,
) -> GroupedUsageShape:
    entry: GroupedUsageShape = {
        "amount_cents": amount_cents,
        "events_count": events_count,
        "units": decimal_string(units),
        "total_aggregated_units": decimal_string(total_aggregated_units),
        "grouped_by": grouped_by,
        "filters": filters,
        "pricing_unit_details": None,
        "presentation_breakdowns": [],
    }
    if projection is not None:
        entry.update(projection)
    return entry


def charge_usage_payload(
    charge: Charge,
    *,
    units: Decimal,
    total_aggregated_units: Decimal,
    events_count: int,
    amount_cents: int,
    currency: str,
    filters: list[UsageFilterShape],
    grouped_usage: list[GroupedUsageShape],
    projection: UsageProjection | None = None,
) -> ChargeUsageShape:
    """One charge's usage in a period, with its charge and billable metric."""
    metric = charge.billable_metric
    entry: ChargeUsageShape = {
        "units": decimal_string(units),
        "total_aggregated_units": decimal_string(total_aggregated_units),
        "events_count": events_count,
        "amount_cents": amount_cents,
        "amount_currency": currency,
        "pricing_unit_details": None,
        "presentation_breakdowns": [],
        "charge": {
            "lago_id": str(charge.id),
            "code": charge.code,
            "charge_model": charge.charge_model,
            "invoice_display_name": charge.invoice_display_name or None,
        },
        "billable_metric": {
            "lago_id": str(metric.id),
            "name": metric.name,
            "code": metric.code,
            "aggregation_type": metric.aggregation_type,
        },
        "filters": filters,
        "grouped_usage": grouped_usage,
    }
    if projection is not None:
        entry.update(projection)
    return entry


def customer_usage_payload(
    *,
    from_datetime: datetime,
    to_datetime: datetime,
    issuing_date: date,
    currency: str,
    lago_invoice_id: str | None,
    amount_cents: int,
    taxes_amount_cents: int,
    total_amount_cents: int,
    charges_usage: list[ChargeUsageShape],
    projected_amount_cents: int | None = None,
) -> CustomerUsageShape:
    """A period's usage (`to_datetime` its last second); `projected_amount_cents` for a projection."""
    answer: CustomerUsageShape = {
        "from_datetime": utc_iso(from_datetime),
        "to_datetime": utc_iso(to_datetime),
        "issuing_date": issuing_date.isoformat(),
        "currency": currency,
        "lago_invoice_id": lago_invoice_id,
        "amount_cents": amount_cents,
        "taxes_amount_cents": taxes_amount_cents,
        "total_amount_cents": total_amount_cents,
        "charges_usage": charges_usage,
    }
    if projected_amount_cents is not None:
        answer["projected_amount_cents"] = projected_amount_cents
    return answer
