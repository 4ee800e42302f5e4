"""Shapes of the events API (docs/billing-semantics.md §12, docs/metering.md).

Ingestion validates in plain Python (metering.ingestion) for speed; these serializers describe the
request and response bodies for the OpenAPI schema and render stored events.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypedDict

from rest_framework import serializers

from billing_project.core.api.serializers import PaginationMeta, envelope, list_envelope
from billing_project.core.api.shapes import Help, Uuid, schema_serializer
from billing_project.core.money import exponent, to_cents
from metering import ingestion


def iso_ms(moment: datetime) -> str:
    """Lago's event timestamps: ISO-8601 UTC with milliseconds (truncated), e.g.
    `2024-03-01T12:00:00.123Z`."""
    offset = moment.utcoffset()
    if offset:
        moment = moment.astimezone(UTC)
    # What `isoformat(timespec="milliseconds")[:23] + "Z"` gives, without the C `sprintf` per field
    # that `isoformat` runs (about a fifth fewer instructions; two per single-event response).
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, moment.microsecond // 1000
    )  # fmt: skip


def _decimal_text(value: Any) -> str | None:
    if value is None:
        return None
    text = format(value.normalize(), "f") if hasattr(value, "normalize") else str(value)
    return text


def _plain_json(properties: Any) -> Any:
    # Decimals leave as JSON numbers only when exact, else as strings (see ingestion.dumps).
    if all(isinstance(v, str | int | bool) or v is None for v in properties.values()):
        return properties  # nothing to convert (the common case)
    return json.loads(ingestion.dumps(properties))


class EventShape(TypedDict):
    """Lago's EventResponse (`event_dict`, `ingested_event_dict`)."""

    lago_id: Uuid
    transaction_id: str
    lago_customer_id: Uuid | None
    lago_subscription_id: Uuid | None
    external_subscription_id: str
    external_customer_id: str | None
    code: str
    timestamp: str
    precise_total_amount_cents: str | None
    properties: dict[str, Any]
    created_at: str


class EventProblemShape(TypedDict):
    error_code: Annotated[
        str,
        Help(
            "invalid_code, unknown_subscription, missing_aggregation_property, "
            "invalid_aggregation_property, expression_failed or pay_in_advance_fee_failed."
        ),
    ]
    message: Annotated[str | None, Help("Why, when known (e.g. why a fee failed).")]
    created_at: str


class EventDetailShape(EventShape):
    errors: Annotated[
        list[EventProblemShape],
        Help("bxb extra: what keeps this event from being billed as it is (empty when nothing does)."),
    ]


class DuplicateShape(TypedDict):
    index: int
    transaction_id: str
    external_subscription_id: str


class EventErrorShape(TypedDict):
    lago_id: Uuid
    error_code: str
    message: str | None
    transaction_id: str
    external_subscription_id: str
    code: str
    lago_event_id: Uuid
    event: EventShape
    created_at: str


def event_dict(event: Any, created_at: str | None = None, *, ids: tuple[str, str] | None = None) -> EventShape:
    """A stored `Event` or a just-ingested `ParsedEvent` in Lago's EventResponse shape. `ids`: its
    subscription's and customer's ids as text when known (`IngestResult.subscription_ids`)."""
    if created_at is None:
        created_at = iso_ms(event.created_at)
    if ids is None:
        subscription_id = str(event.subscription_id) if event.subscription_id else None
        customer_id = str(event.customer_id) if event.customer_id else None
    else:
        subscription_id, customer_id = ids
    return {
        "lago_id": str(event.id),
        "transaction_id": event.transaction_id,
        "lago_customer_id": customer_id,
        "lago_subscription_id": subscription_id,
        "external_subscription_id": event.external_subscription_id,
        "external_customer_id": event.external_customer_id or None,
        "code": event.code,
        "timestamp": iso_ms(event.timestamp),
        "precise_total_amount_cents": _decimal_text(event.precise_total_amount_cents),
        "properties": _plain_json(event.properties),
        "created_at": created_at,
    }


def ingested_event_dict(event: Any, created_at: str, subscription_ids: dict[str, tuple[str, str]]) -> EventShape:
    """A just-ingested `ParsedEvent` as `event_dict` renders it, for the batch answer: ids as text
    from the ingestion (`IngestResult.subscription_ids`), properties left to the JSON renderer
    (`ingestion.dumps_bytes` writes Decimals exactly as `_plain_json` does)."""
    ids = subscription_ids.get(event.external_subscription_id)
    precise = event.precise_total_amount_cents
    return {
        "lago_id": str(event.id),
        "transaction_id": event.transaction_id,
        "lago_customer_id": ids[1] if ids else None,
        "lago_subscription_id": ids[0] if ids else None,
        "external_subscription_id": event.external_subscription_id,
        "external_customer_id": event.external_customer_id or None,
        "code": event.code,
        "timestamp": iso_ms(event.timestamp),
        "precise_total_amount_cents": None if precise is None else _decimal_text(precise),
        "properties": event.properties,
        "created_at": created_at,
    }


def duplicate_dict(event: Any) -> DuplicateShape:
    return {
        "index": event.index,
        "transaction_id": event.transaction_id,
        "external_subscription_id": event.external_subscription_id,
    }


def event_detail_dict(event: Any, errors: Any) -> EventDetailShape:
    """`GET /events/{transaction_id}`: the event (Lago's shape) plus what keeps it from being billed
    as it is (bxb extra `errors`: ingestion problems, and in-advance fees that failed)."""
    return {
        **event_dict(event),
        "errors": [
            {"error_code": error.error_code, "message": error.message or None, "created_at": iso_ms(error.created_at)}
            for error in errors
        ],
    }


def event_error_dict(error: Any) -> EventErrorShape:
    return {
        "lago_id": str(error.id),
        "error_code": error.error_code,
        "message": error.message or None,
        "transaction_id": error.transaction_id,
        "external_subscription_id": error.external_subscription_id,
        "code": error.code,
        "lago_event_id": str(error.event_id),
        "event": event_dict(error.event),
        "created_at": iso_ms(error.created_at),
    }


# --- schema ------------------------------------------------------------------------------------


class EventInput(serializers.Serializer):
    transaction_id = serializers.CharField(max_length=255)
    external_subscription_id = serializers.CharField(max_length=255)
    external_customer_id = serializers.CharField(max_length=255, required=False, allow_null=True)
    code = serializers.CharField(max_length=255)
    timestamp = serializers.CharField(
        required=False, allow_null=True, help_text="Unix seconds (integer or fractional), number or string."
    )
    precise_total_amount_cents = serializers.CharField(required=False, allow_null=True)
    properties = serializers.DictField(required=False, allow_null=True)


EventInputEnvelope = envelope("EventInputEnvelope", "event", EventInput)


class EventBatchInput(serializers.Serializer):
    events = EventInput(many=True)


class EstimateEventInput(EventInput):
    transaction_id = serializers.CharField(
        max_length=255, required=False, allow_null=True, help_text="Optional: a UUID is generated when absent."
    )


EstimateEventInputEnvelope = envelope("EstimateEventInputEnvelope", "event", EstimateEventInput)


class EstimateEventBatchInput(serializers.Serializer):
    events = EstimateEventInput(many=True, help_text="At most 100 events.")


EventOutput = schema_serializer(EventShape)


EventEnvelope = envelope("EventEnvelope", "event", EventOutput)


EventDetailOutput = schema_serializer(EventDetailShape)


EventDetailEnvelope = envelope("EventDetailEnvelope", "event", EventDetailOutput)


DuplicateOutput = schema_serializer(DuplicateShape)


class EventBatchOutput(serializers.Serializer):
    events = EventOutput(many=True, help_text="Events stored by this request.")
    duplicates = DuplicateOutput(
        many=True, help_text="Events already stored (or repeated in the batch): not stored again."
    )


def event_page_meta(page: Any) -> dict[str, Any]:
    """Lago's `meta` for a `selectors.EventPage`, plus `total_count_exact` (false when the total
    stopped at `EVENTS_LIST_COUNT_LIMIT`: then `total_count`/`total_pages` are what is known to
    exist, and `next_page` is still exact)."""
    if page.total_count == 0:
        meta: dict[str, Any] = {
            "current_page": 0,
            "next_page": None,
            "prev_page": None,
            "total_pages": 0,
            "total_count": 0,
        }
    else:
        meta = {
            "current_page": page.page,
            "next_page": page.page + 1 if page.has_next else None,
            "prev_page": page.page - 1 if page.page > 1 else None,
            "total_pages": max(math.ceil(page.total_count / page.per_page), page.page if page.events else 0),
            "total_count": page.total_count,
        }
    meta["total_count_exact"] = page.total_count_exact
    return meta


class EventListMeta(PaginationMeta):
    total_count_exact = serializers.BooleanField(
        help_text="False when the list is longer than EVENTS_LIST_COUNT_LIMIT: total_count and total_pages "
        "are then lower bounds (next_page stays exact)."
    )


EventListEnvelope = list_envelope("EventListEnvelope", "events", EventOutput, EventListMeta)


EventErrorOutput = schema_serializer(EventErrorShape)


EventErrorListEnvelope = list_envelope("EventErrorListEnvelope", "event_errors", EventErrorOutput)


def _plain(value: Decimal) -> str:
    """An exact decimal as text, never in exponent notation (5, 0.5, 2177.4193…)."""
    return format(value.normalize() if value != value.to_integral_value() else value.quantize(1), "f")


class EstimateFeeItemShape(TypedDict):
    type: str
    code: str
    name: str
    description: str | None
    invoice_display_name: str
    filters: dict[str, list[str]] | None
    filter_invoice_display_name: str | None
    lago_item_id: Uuid
    item_type: str
    grouped_by: dict[str, str | None]


class EstimatedFeeAppliedTaxShape(TypedDict):
    lago_id: Uuid | None
    lago_fee_id: Uuid | None
    lago_tax_id: Uuid
    tax_name: str
    tax_code: str
    tax_rate: float
    tax_description: str | None
    amount_cents: int
    amount_currency: str
    created_at: Annotated[str | None, Help("Null: an estimate is not saved.")]


class EstimatedFeeShape(TypedDict):
    """An unsaved fee: every key of Lago's fee object (`metering.api.serializers.fee_estimate_dict`)."""

    lago_id: Uuid | None
    lago_charge_id: Uuid
    lago_charge_filter_id: Uuid | None
    lago_fixed_charge_id: Uuid | None
    lago_invoice_id: Uuid | None
    lago_true_up_fee_id: Uuid | None
    lago_true_up_parent_fee_id: Uuid | None
    lago_subscription_id: Uuid
    external_subscription_id: str
    lago_customer_id: Uuid
    external_customer_id: str | None
    item: EstimateFeeItemShape
    pay_in_advance: bool
    invoiceable: bool
    amount_cents: int
    amount_currency: str
    precise_amount: str
    precise_total_amount: str
    taxes_amount_cents: int
    taxes_precise_amount: str
    taxes_rate: Annotated[float, Help("Sum of the applied taxes' rates, in percent.")]
    total_amount_cents: Annotated[int, Help("amount_cents + taxes_amount_cents")]
    total_amount_currency: str
    units: Annotated[str, Help("The event's units.")]
    total_aggregated_units: Annotated[
        str, Help("estimate_fees: the charges period's units with the event; instant estimates: the event's.")
    ]
    description: str | None
    precise_unit_amount: Annotated[str, Help("precise_amount / units, in major units.")]
    unit_amount_cents: int
    precise_coupons_amount_cents: str
    sub_total_excluding_taxes_amount_cents: int
    sub_total_excluding_taxes_precise_amount_cents: str
    events_count: int
    payment_status: str
    created_at: str | None
    succeeded_at: str | None
    failed_at: str | None
    refunded_at: str | None
    from_date: Annotated[str | None, Help("The charges period (estimate_fees); null: instant.")]
    to_date: str | None
    event_transaction_id: Annotated[str, Help("The event's, or the one generated for it.")]
    amount_details: dict[str, Any]
    self_billed: bool
    pricing_unit_details: dict[str, Any] | None
    presentation_breakdowns: list[dict[str, Any]]
    applied_taxes: list[EstimatedFeeAppliedTaxShape]


def fee_estimate_dict(estimate: Any) -> EstimatedFeeShape:
    """An unsaved pay-in-advance fee (`metering.estimates.FeeEstimate`) in Lago's fee shape: every
    key of a saved fee (`lago_id`, `lago_invoice_id`, `created_at` null; `payment_status`
    "pending"), with the taxes its invoice would apply. `from_date`/`to_date` are the charges
    period of `estimate_fees`, null for instant estimates."""
    charge, metric = estimate.charge, estimate.charge.billable_metric
    charge_filter = estimate.charge_filter
    scale = exponent(estimate.currency)
    precise_cents = estimate.precise_amount.scaleb(scale)
    taxes_precise = estimate.taxes_precise_amount_cents.scaleb(-scale)
    return {
        "lago_id": None,
        "lago_charge_id": str(charge.id),
        "lago_charge_filter_id": str(charge_filter.id) if charge_filter else None,
        "lago_fixed_charge_id": None,
        "lago_invoice_id": None,
        "lago_true_up_fee_id": None,
        "lago_true_up_parent_fee_id": None,
        "lago_subscription_id": str(estimate.subscription.id),
        "external_subscription_id": estimate.subscription.external_id,
        "lago_customer_id": str(estimate.subscription.customer_id),
        "external_customer_id": estimate.external_customer_id,
        "item": {
            "type": "charge",
            "code": metric.code,
            "name": metric.name,
            "description": metric.description or None,
            "invoice_display_name": charge.invoice_display_name or metric.name,
            "filters": {k: list(v) for k, v in charge_filter.values.items()} if charge_filter else None,
            "filter_invoice_display_name": (charge_filter.invoice_display_name or None) if charge_filter else None,
            "lago_item_id": str(metric.id),
            "item_type": "BillableMetric",
            "grouped_by": {k: (None if v is None else str(v)) for k, v in estimate.grouped_by.items()},
        },
        "pay_in_advance": True,
        "invoiceable": charge.invoiceable,
        "amount_cents": estimate.amount_cents,
        "amount_currency": estimate.currency,
        "precise_amount": _plain(estimate.precise_amount),
        "precise_total_amount": _plain(estimate.precise_amount + taxes_precise),
        "taxes_amount_cents": estimate.taxes_amount_cents,
        "taxes_precise_amount": _plain(taxes_precise),
        "taxes_rate": _rate_number(estimate.taxes_rate),
        "total_amount_cents": estimate.total_amount_cents,
        "total_amount_currency": estimate.currency,
        "units": _plain(estimate.units),
        "total_aggregated_units": _plain(estimate.total_aggregated_units),
        "description": None,
        "precise_unit_amount": _plain(estimate.unit_amount),
        "unit_amount_cents": to_cents(estimate.unit_amount, estimate.currency),
        "precise_coupons_amount_cents": "0.0",
        "sub_total_excluding_taxes_amount_cents": estimate.amount_cents,
        "sub_total_excluding_taxes_precise_amount_cents": _plain(precise_cents),
        "events_count": 1,
        "payment_status": "pending",
        "created_at": None,
        "succeeded_at": None,
        "failed_at": None,
        "refunded_at": None,
        "from_date": iso_ms(estimate.from_datetime) if estimate.from_datetime else None,
        "to_date": iso_ms(estimate.to_datetime) if estimate.to_datetime else None,
        "event_transaction_id": estimate.transaction_id,
        "amount_details": {},
        "self_billed": False,
        "pricing_unit_details": None,
        "presentation_breakdowns": [],
        "applied_taxes": [
            {
                "lago_id": None,
                "lago_fee_id": None,
                "lago_tax_id": str(line.tax.id),
                "tax_name": line.tax.name,
                "tax_code": line.tax.code,
                "tax_rate": _rate_number(line.tax.rate),
                "tax_description": line.tax.description,
                "amount_cents": line.amount_cents,
                "amount_currency": estimate.currency,
                "created_at": None,
            }
            for line in estimate.taxes
        ],
    }


def _rate_number(value: Any) -> int | float:
    """A rate Lago's client types as float (20 or 8.5), rendered from the exact decimal."""
    value = value.normalize() if hasattr(value, "normalize") else value
    return int(value) if value == int(value) else float(value)


EstimatedFeeOutput = schema_serializer(EstimatedFeeShape)


class FeeEstimateListOutput(serializers.Serializer):
    fees = EstimatedFeeOutput(many=True)
