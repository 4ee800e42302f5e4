"""Reads of invoicing, organization first: invoices, fees, current and past usage."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    TextField,
    Value,
    Window,
    prefetch_related_objects,
)
from django.db.models.functions import Cast, Greatest
from django.utils import timezone

from billing_project.core import json_rows
from billing_project.core.api.pagination import PreparedPages
from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.found import first_with_id, found, uuid_or_none
from billing_project.core.narrowing import narrowed, searched
from billing_project.core.prepared import PreparedQuery
from catalog.models import (
    BillableMetric,
    BillableMetricFilter,
    Charge,
    ChargeFilter,
    ChargeTax,
    CustomerTax,
    PlanTax,
    Tax,
)
from customers import hooks as customer_hooks
from customers import selectors as customer_selectors
from customers.models import Customer, Organization
from invoicing import projection
from invoicing.billing import pricing
from invoicing.billing.snapshot import ChargeSnapshot, live_filters, metric_spec
from invoicing.calculation import Context, FeeLine, calculate_invoice
from invoicing.models import (
    HIDDEN_STATUSES,
    Fee,
    FeeAppliedTax,
    Invoice,
    InvoiceAppliedTax,
    InvoiceStatus,
    InvoiceSubscription,
    PaymentStatus,
)
from invoicing.representation import (
    FEE_RELATED,
    ChargeUsageShape,
    CustomerUsageShape,
    GroupedUsageShape,
    InvoiceAppliedTaxRow,
    InvoiceListRow,
    UsageFilterShape,
    UsageProjection,
    charge_usage_payload,
    customer_usage_payload,
    grouped_usage_payload,
    usage_filter_payload,
)
from invoicing.services.taxes import TaxResolver, tax_rates
from metering.bulk import UsageRequest, aggregate_many
from subscriptions import periods
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.selectors import ChainStarts, schedule_for

LISTED_STATUSES = [InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED, InvoiceStatus.FAILED]


def amount_due_expression() -> ExpressionWrapper:
    """What is left to pay on an invoice: its total less what was paid and what credit notes
    offset (never below zero). Meaningful for finalized invoices whose payment has not succeeded."""
    return ExpressionWrapper(
        Greatest(
            F("total_amount_cents") - F("total_paid_amount_cents") - F("total_offsetted_credit_note_amount_cents"),
            Value(0),
        ),
        output_field=BigIntegerField(),
    )


def open_invoices(organization: Organization | None = None) -> QuerySet[Invoice]:
    """Finalized invoices with something left to pay, annotated with `amount_due`."""
    qs = Invoice.objects.filter(status=InvoiceStatus.FINALIZED)
    if organization is not None:
        qs = qs.filter(organization=organization)
    return (
        qs.exclude(payment_status=PaymentStatus.SUCCEEDED)
        .annotate(amount_due=amount_due_expression())
        .filter(amount_due__gt=0)
    )


def invoice_amount_due(invoice: Invoice) -> int:
    if invoice.status != InvoiceStatus.FINALIZED or invoice.payment_status == PaymentStatus.SUCCEEDED:
        return 0
    due = (
        invoice.total_amount_cents - invoice.total_paid_amount_cents - invoice.total_offsetted_credit_note_amount_cents
    )
    return max(due, 0)


def issued_within(
    qs: QuerySet[Any],
    issuing_date_from: dt.date | None,
    issuing_date_to: dt.date | None,
    *,
    amount_from: int | None,
    amount_to: int | None,
) -> QuerySet[Any]:
    """Invoices or credit notes issued between the dates and totalling between the amounts (every
    bound inclusive, each left out when not given)."""
    if issuing_date_from:
        qs = qs.filter(issuing_date__gte=issuing_date_from)
    if issuing_date_to:
        qs = qs.filter(issuing_date__lte=issuing_date_to)
    if amount_from is not None:
        qs = qs.filter(total_amount_cents__gte=amount_from)
    if amount_to is not None:
        qs = qs.filter(total_amount_cents__lte=amount_to)
    return qs


def invoice_list(
    organization: Organization,
    *,
    external_customer_id: str | None = None,
    currency: str | None = None,
    invoice_type: str | None = None,
    statuses: list[str] | None = None,
    payment_statuses: list[str] | None = None,
    issuing_date_from: dt.date | None = None,
    issuing_date_to: dt.date | None = None,
    amount_from: int | None = None,
    amount_to: int | None = None,
    payment_overdue: bool | None = None,
    search_term: str | None = None,
    purchase_order_number: str | None = None,
    metadata: dict[str, str] | None = None,
    billing_entity_ids: list[Any] | None = None,
) -> QuerySet[Invoice]:
    qs = Invoice.objects.filter(organization=organization, status__in=LISTED_STATUSES)
    if billing_entity_ids is not None:  # a draft not yet given its entity is its customer's
        qs = qs.filter(
            Q(billing_entity_id__in=billing_entity_ids)
            | Q(billing_entity__isnull=True, customer__billing_entity_id__in=billing_entity_ids)
        )
    if external_customer_id:
        # The customer ids first (the (organization, external_id) index; a soft-deleted customer's
        # invoices too, as before), so the invoices are read by (organization, customer) whatever
        # the planner's statistics say (a join let it scan the organization's invoices).
        customer_ids = list(
            Customer.objects.filter(organization=organization, external_id=external_customer_id).values_list(
                "id", flat=True
            )
        )
        qs = qs.filter(customer_id__in=customer_ids)
    qs = narrowed(
        qs, currency=currency, invoice_type=invoice_type, status__in=statuses, payment_status__in=payment_statuses
    )
    qs = issued_within(qs, issuing_date_from, issuing_date_to, amount_from=amount_from, amount_to=amount_to)
    if payment_overdue is not None:
        qs = qs.filter(payment_overdue=payment_overdue)
    qs = narrowed(qs, purchase_order_number=purchase_order_number)
    qs = searched(qs, search_term, "number", "customer__name", "customer__external_id", "customer__email")
    for key, value in (metadata or {}).items():
        qs = qs.filter(metadata__contains=[{"key": key, "value": value}]) if _json_contains() else qs
    # Rows only, with whether their customer has metadata and tax links and, on PostgreSQL, their
    # applied taxes: `invoice_list_related` reads what else a page's representation needs.
    related = ("customer", "billing_entity", *(f"customer__{r}" for r in customer_hooks.REPRESENTATION_RELATED))
    deferred = ("billing_entity__logo", *customer_hooks.representation_deferred("customer__"))
    annotations: dict[str, Any] = dict(customer_selectors.representation_flags("customer_id"))
    if json_rows.supported(qs.db):
        annotations[_LIST_TAXES] = Func(F("pk"), template=_list_taxes_sql(), output_field=TextField())
    return (
        qs.select_related(*related)
        .defer(*deferred)
        .annotate(**annotations)
        .order_by("-issuing_date", "-created_at", "id")
    )


# `GET /invoices` without filters, its pages compiled once per process (`PreparedPages`: SQL text, no rows).
INVOICE_PAGES = PreparedPages(lambda p: invoice_list(p.organization), organization=uuid.UUID)


def invoice_list_related(
    organization: Organization, invoices: list[Invoice]
) -> tuple[dict[Any, list[InvoiceAppliedTaxRow]] | dict[Any, list[InvoiceAppliedTax]], dict[Any, dict[str, list[Any]]]]:
    """What rendering a page of `invoice_list` reads besides its rows: none when its customers
    have no metadata nor tax links (the rows say, `representation_flags`) and its applied taxes rode
    on the rows (PostgreSQL), else a statement for each of those relations that has rows.

    The customers (a page often holds one) get their organization (the caller's: lists are
    tenant-scoped); returns the applied taxes by invoice id, in the representation's order, and
    the rows of each customer's representation's relations by customer id
    (`customers.representation.customer_payload(related=)`).
    """
    customers: dict[Any, Customer] = {}
    flags: dict[Any, dict[str, bool]] = {}
    names = list(customer_selectors.representation_flags())
    for invoice in invoices:
        customer = customers.setdefault(invoice.customer_id, invoice.customer)
        invoice.customer = customer
        found_flags = {name: invoice.__dict__.pop(name) for name in names if name in invoice.__dict__}
        flags.setdefault(customer.pk, found_flags)
    related = customer_selectors.representation_related(organization, list(customers.values()), flags)
    taxes: dict[Any, list[Any]] = {invoice.id: [] for invoice in invoices}
    tax_ids: dict[str, uuid.UUID] = {}
    apart = []
    for invoice in invoices:
        text = invoice.__dict__.pop(_LIST_TAXES, None)
        if text is None:
            apart.append(invoice.id)
        else:
            taxes[invoice.id] = _applied_tax_rows(text, invoice.id, tax_ids)
    if apart:
        for row in InvoiceAppliedTax.objects.filter(invoice_id__in=apart).order_by("created_at", "id"):
            taxes[row.invoice_id].append(row)
    return taxes, related


# --- a customer's invoices, one page (GET /invoices?external_customer_id=..., the common list) -------


_LIST_CUSTOMERS = PreparedQuery(
    lambda p: (
        Customer.objects.filter(organization_id=p.organization, external_id=p.external_id)
        .select_related(*customer_hooks.REPRESENTATION_RELATED)
        .defer(*customer_hooks.REPRESENTATION_DEFERRED)
        .annotate(**customer_selectors.representation_flags())
        .order_by("id")
    ),
    organization=uuid.UUID,
    external_id=str,
)
_page_queries: dict[tuple[int, int, bool], PreparedQuery] = {}
_taxes_queries: dict[int, PreparedQuery] = {}
_relation_queries: dict[str, PreparedQuery] = {}
_PREPARED_TAX_IDS = 100  # pages up to this size read their applied taxes through a compiled query


def _customer_invoices(p: Any) -> QuerySet[Invoice]:
    return Invoice.objects.filter(
        organization_id=p.organization, customer_id=p.customer, status__in=LISTED_STATUSES
    ).order_by("-issuing_date", "-created_at", "id")


# The columns of a page's rows, in `InvoiceListRow`'s order (its last field, the customer, is
# the page's): the invoice's fields, its entity's code (joined), its file's name, its JSON columns
# as their text (decoded by `_json_value`), then the list's total and, on PostgreSQL, its applied
# taxes (JSON text, `_LIST_TAXES`).
_ROW_FIELDS = InvoiceListRow._fields[:-1]
_ROW_COLUMNS = tuple(
    {"entity_code": "billing_entity__code", "file_name": "file"}.get(name, name)
    for name in _ROW_FIELDS
    if name not in ("metadata", "credits", "applied_invoice_custom_sections")
)
_ROW_JSON = {"metadata_text": "metadata", "credits_text": "credits", "sections_text": "applied_invoice_custom_sections"}
_LIST_TAXES = "applied_taxes_text"


def _json_value(text: str | None) -> Any:
    """A JSON column read as text, decoded as `JSONField` decodes it (the empty list, its default
    and the usual value, without a parse)."""
    if text is None:
        return None
    return [] if text == "[]" else json_rows.loads(text)


@functools.cache
def _list_taxes_sql() -> str:
    """An invoice's applied taxes (`InvoiceAppliedTaxRow`'s columns), as JSON text, in the order
    of the page's separate read (created_at, id)."""
    model = InvoiceAppliedTax
    rows = json_rows.list_sql(
        json_rows.some_columns_sql(model, "at", InvoiceAppliedTaxRow._fields),
        f"{json_rows.table(model)} at WHERE at.{json_rows.column(model, 'invoice')} = %(expressions)s",
        "at.created_at, at.id",
    )
    return f"({rows}::text)"


def _applied_tax_rows(text: str, invoice_id: uuid.UUID, tax_ids: dict[str, uuid.UUID]) -> list[InvoiceAppliedTaxRow]:
    """The rows of `_list_taxes_sql`'s JSON text: the values its columns hold in the database (a
    UUID, a `Decimal`, an aware datetime), the invoice's id being the page row's, each tax's id
    parsed once per page (`tax_ids`)."""
    rows = []
    for tax_row_id, _, tax_id, name, code, rate, description, amount, currency, fees, created_at in json_rows.loads(
        text
    ):
        tax = None if tax_id is None else (tax_ids.get(tax_id) or tax_ids.setdefault(tax_id, uuid.UUID(tax_id)))
        rows.append(
            InvoiceAppliedTaxRow(
                uuid.UUID(tax_row_id), invoice_id, tax, name, code, Decimal(rate), description, amount, currency, fees,
                json_rows.datetime_value(created_at),
            )
        )  # fmt: skip
    return rows


def _page_of(offset: int, limit: int, with_taxes: bool) -> PreparedQuery:
    """The page as rows (`_ROW_COLUMNS`), each carrying the total count of the list (one statement:
    they agree) and, `with_taxes`, its applied taxes."""
    key = (offset, limit, with_taxes)
    query = _page_queries.get(key)  # a local reference: another thread may clear the dict
    if query is None:
        if len(_page_queries) > 64:  # pages are few in practice; never let odd ones accumulate
            _page_queries.clear()
        annotations: dict[str, Any] = {name: Cast(column, TextField()) for name, column in _ROW_JSON.items()}
        annotations["list_total"] = Window(Count("id"))
        if with_taxes:
            annotations[_LIST_TAXES] = Func(F("pk"), template=_list_taxes_sql(), output_field=TextField())
        query = _page_queries[key] = PreparedQuery(
            lambda p: (
                _customer_invoices(p)
                .annotate(**annotations)
                .values_list(*_ROW_COLUMNS, *annotations)[offset : offset + limit]
            ),
            organization=uuid.UUID,
            customer=uuid.UUID,
        )
    return query


def _page_applied_taxes(invoice_ids: list[Any]) -> list[InvoiceAppliedTaxRow]:
    """The applied taxes of exactly these invoices, as rows (`InvoiceAppliedTaxRow`). Up to
    `_PREPARED_TAX_IDS` ids, a compiled query per list size rounded up to 10, padded with ids that
    match nothing."""
    columns = InvoiceAppliedTaxRow._fields
    if len(invoice_ids) > _PREPARED_TAX_IDS:
        rows = InvoiceAppliedTax.objects.filter(invoice_id__in=invoice_ids).order_by("created_at", "id")
        return [InvoiceAppliedTaxRow._make(row) for row in rows.values_list(*columns)]
    size = -(-len(invoice_ids) // 10) * 10
    query = _taxes_queries.get(size)
    if query is None:
        names = [f"i{n}" for n in range(size)]
        query = _taxes_queries[size] = PreparedQuery(
            lambda p: (
                InvoiceAppliedTax.objects.filter(invoice_id__in=[getattr(p, n) for n in names])
                .order_by("created_at", "id")
                .values_list(*columns)
            ),
            **dict.fromkeys(names, uuid.UUID),
        )
    padding = [uuid.UUID(int=n + 1) for n in range(size - len(invoice_ids))]  # never an invoice's id (uuid4)
    found = query.fetch(**{f"i{n}": value for n, value in enumerate([*invoice_ids, *padding])})
    return [InvoiceAppliedTaxRow._make(row) for row in found]


def _relation_query(lookup: str) -> PreparedQuery:
    """The rows of one of the customer representation's relations (`metadata`, `tax_links__tax`):
    what `prefetch_related` reads for one customer (the related model's default manager and
    ordering), later ones of the lookup joined with `select_related`."""
    query = _relation_queries.get(lookup)
    if query is None:
        first, *rest = lookup.split("__")
        relation = Customer._meta.get_field(first)
        model = relation.related_model
        column = relation.field.attname  # type: ignore[union-attr]
        query = _relation_queries[lookup] = PreparedQuery(
            lambda p: model._default_manager.filter(**{column: p.customer}).select_related(*(["__".join(rest)] if rest else [])),
            customer=uuid.UUID,
        )  # fmt: skip
    return query


def customer_invoice_page(
    organization: Organization, external_customer_id: str, *, page: int, per_page: int
) -> tuple[list[InvoiceListRow], int, dict[Any, list[InvoiceAppliedTaxRow]], dict[str, list[Any]]] | None:
    """`invoice_list(organization, external_customer_id=...)` paged, in two compiled statements
    (three on other databases than PostgreSQL, more when the customer has metadata or taxes): the
    customer (with whether it has metadata and tax links), the page's rows (`InvoiceListRow`) with
    the list's total and their applied taxes, and those of the customer's relations that have
    rows. Returns the page, the total, the applied taxes by invoice and the rows of the customer's
    relations by name (`customers.representation.customer_payload(related=)`). None when the
    external id names several customers (a deleted one's id reused): the general path answers then."""
    customers = _LIST_CUSTOMERS.fetch(organization=organization.id, external_id=external_customer_id)
    if len(customers) > 1:
        return None
    if not customers:
        return [], 0, {}, {}
    [customer] = customers
    customer.organization = organization
    offset = (page - 1) * per_page
    with_taxes = json_rows.supported(Invoice.objects.db)
    found = _page_of(offset, per_page, with_taxes).fetch(organization=organization.id, customer=customer.id)
    if not found:
        total = 0 if offset == 0 else _customer_invoices_count(organization, customer)
        return [], total, {}, {}
    related: dict[str, list[Any]] = {}
    for lookup in customer_hooks.representation_prefetches():
        first = lookup.split("__")[0]
        has_rows = getattr(customer, f"has_rows_{first}", True)
        related[first] = _relation_query(lookup).fetch(customer=customer.id) if has_rows else []
    width = len(_ROW_COLUMNS)
    items: list[InvoiceListRow] = []
    taxes: dict[Any, list[InvoiceAppliedTaxRow]] = {}
    tax_ids: dict[str, uuid.UUID] = {}  # a page's invoices mostly apply the same few taxes
    for row in found:
        metadata, credits, sections = row[width], row[width + 1], row[width + 2]
        items.append(
            InvoiceListRow._make(
                (*row[:width], _json_value(metadata), _json_value(credits), _json_value(sections), customer)
            )
        )
        if with_taxes:
            taxes[row[0]] = _applied_tax_rows(row[width + 4], row[0], tax_ids)
    if not with_taxes:
        taxes = {item.id: [] for item in items}
        for tax in _page_applied_taxes(list(taxes)):
            taxes[tax.invoice_id].append(tax)
    return items, found[0][width + 3], taxes, related


def _customer_invoices_count(organization: Organization, customer: Customer) -> int:
    from types import SimpleNamespace

    return _customer_invoices(SimpleNamespace(organization=organization.id, customer=customer.id)).count()


def _json_contains() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def invoice_get(organization: Organization, invoice_id: Any) -> Invoice:
    listed = Invoice.objects.select_related("customer__organization", "organization").filter(
        organization=organization, status__in=LISTED_STATUSES
    )
    return found(first_with_id(listed, invoice_id), "invoice")


# `GET /invoices/{id}`'s read (`invoice_represented`): columns of the invoice's statement.
_HAS_PERIODS = "has_rows_invoice_subscriptions"
_HAS_FEES = "has_rows_fees"
_APPLIED_TAXES = "applied_taxes_json"
_FEE_APPLIED_TAXES = "applied_taxes_json"
_HAS_NEXT = "has_rows_next_subscriptions"


@functools.cache
def _applied_taxes_sql(model: type[models.Model], owner_field: str) -> str:
    """The `model` rows (applied taxes) of the owner whose id is the expression, as JSON text in
    their `Meta.ordering` (created_at, id)."""
    rows = json_rows.list_sql(
        json_rows.columns_sql(model, "at"),
        f"{json_rows.table(model)} at WHERE at.{json_rows.column(model, owner_field)} = %(expressions)s",
        "at.created_at, at.id",
    )
    return f"({rows}::text)"


def _applied_taxes(model: type[models.Model], owner_field: str) -> Func:
    return Func(F("pk"), template=_applied_taxes_sql(model, owner_field), output_field=TextField())


@dataclass
class InvoiceRead:
    """What `GET /invoices/{id}` renders (`invoicing.representation.invoice_payload`'s arguments)."""

    invoice: Invoice
    customer_related: dict[str, list[Any]]
    applied_taxes: list[InvoiceAppliedTax]
    periods: list[InvoiceSubscription]
    fees: list[Fee]
    # Each fee's applied taxes, by fee id, when they were read with the fees (PostgreSQL); None: the
    # fees carry them as a prefetch.
    fee_taxes: dict[Any, list[FeeAppliedTax]] | None = None


def _represented(p: Any) -> QuerySet[Invoice]:
    listed = (
        Invoice.objects.select_related(
            "customer__organization", "organization", "billing_entity", "customer__billing_entity"
        )
        .defer(*customer_hooks.REPRESENTATION_DEFERRED, *customer_hooks.representation_deferred("customer__"))
        .filter(organization_id=p.organization, status__in=LISTED_STATUSES, id=p.id)
        .annotate(
            **customer_selectors.representation_flags("customer_id"),
            **{
                _HAS_PERIODS: Exists(InvoiceSubscription.objects.filter(invoice_id=OuterRef("pk"))),
                _HAS_FEES: Exists(Fee.objects.filter(invoice_id=OuterRef("pk"))),
            },
        )
    )
    if json_rows.supported(listed.db):
        listed = listed.annotate(**{_APPLIED_TAXES: _applied_taxes(InvoiceAppliedTax, "invoice")})
    return listed[:1]


# `invoice_represented`'s statement, compiled once per process (`PreparedQuery`: SQL text, no rows);
# building and compiling it (joins, five `EXISTS` and the applied taxes' JSON) was most of the read's CPU.
_REPRESENTED = PreparedQuery(_represented, organization=uuid.UUID, id=uuid.UUID)


def invoice_represented(organization: Organization, invoice_id: Any) -> InvoiceRead:
    """`invoice_get` with everything its API object shows, in as few statements as its rows allow:
    the invoice with its customer, both billing entities (logos deferred), its customer's
    representation flags, whether it has billing periods and fees (`EXISTS`), and on PostgreSQL
    its applied taxes (JSON, `billing_project.core.json_rows`); then its billing periods and its
    fees (with their applied taxes, JSON on PostgreSQL) only when it has some. One statement for an
    invoice without subscriptions and fees, three with both (plus what the subscriptions' objects
    read)."""
    json = json_rows.supported(Invoice.objects.db)
    pk = uuid_or_none(invoice_id)
    [invoice] = (_REPRESENTED.fetch(organization=organization.pk, id=pk) if pk is not None else None) or [None]
    invoice = found(invoice, "invoice")
    customer = invoice.customer
    for name in customer_selectors.representation_flags():
        setattr(customer, name, invoice.__dict__.pop(name))
    related = customer_selectors.representation_related(organization, [customer])[customer.pk]
    taxes_text = invoice.__dict__.pop(_APPLIED_TAXES, None)
    if taxes_text is not None:
        applied_taxes = [json_rows.instance(InvoiceAppliedTax, row) for row in json_rows.loads(taxes_text)]
    else:
        applied_taxes = list(invoice.applied_taxes.all())
    periods: list[InvoiceSubscription] = []
    if invoice.__dict__.pop(_HAS_PERIODS):
        periods = list(
            invoice.invoice_subscriptions.select_related(
                "subscription__plan", "subscription__customer", "subscription__previous_subscription__plan"
            ).annotate(
                **{_HAS_NEXT: Exists(Subscription.objects.filter(previous_subscription_id=OuterRef("subscription_id")))}
            )
        )
        # The subscription objects read their next subscriptions (none, mostly: no statement then)
        # and their customer's organization (the invoice's: documents are tenant-scoped).
        having_next: list[Subscription] = []
        none_next: list[Subscription] = []
        for period in periods:
            subscription = period.subscription
            if subscription.customer.organization_id == organization.pk:
                subscription.customer.organization = organization
            if period.__dict__.pop(_HAS_NEXT):
                having_next.append(subscription)
            else:
                none_next.append(subscription)
        if having_next:
            prefetch_related_objects(
                having_next, Prefetch("next_subscriptions", queryset=Subscription.objects.select_related("plan"))
            )
        if none_next:
            # Known to have none: an empty queryset fills the prefetch without a statement.
            prefetch_related_objects(none_next, Prefetch("next_subscriptions", queryset=Subscription.objects.none()))
    fees: list[Fee] = []
    fee_taxes: dict[Any, list[FeeAppliedTax]] | None = None
    if invoice.__dict__.pop(_HAS_FEES):
        rows = invoice.fees.select_related(*FEE_RELATED)
        if json:
            fees = list(rows.annotate(**{_FEE_APPLIED_TAXES: _applied_taxes(FeeAppliedTax, "fee")}))
            fee_taxes = {
                fee.pk: [
                    json_rows.instance(FeeAppliedTax, row)
                    for row in json_rows.loads(fee.__dict__.pop(_FEE_APPLIED_TAXES))
                ]
                for fee in fees
            }
        else:
            fees = list(rows.prefetch_related("applied_taxes"))
    return InvoiceRead(invoice, related, applied_taxes, periods, fees, fee_taxes)


def fee_list(
    organization: Organization,
    *,
    fee_type: str | None = None,
    payment_status: str | None = None,
    external_subscription_id: str | None = None,
    external_customer_id: str | None = None,
    billable_metric_code: str | None = None,
    currency: str | None = None,
    event_transaction_id: str | None = None,
    created_at_from: dt.datetime | None = None,
    created_at_to: dt.datetime | None = None,
) -> QuerySet[Fee]:
    qs = Fee.objects.filter(organization=organization, deleted_at__isnull=True).exclude(
        invoice__status__in=HIDDEN_STATUSES
    )
    qs = narrowed(
        qs,
        fee_type=fee_type,
        payment_status=payment_status,
        subscription__external_id=external_subscription_id,
        customer__external_id=external_customer_id,
        charge__billable_metric__code=billable_metric_code,
        currency=currency,
        event_transaction_id=event_transaction_id,
        created_at__gte=created_at_from,
        created_at__lte=created_at_to,
    )
    return qs.select_related(*FEE_RELATED).prefetch_related("applied_taxes").order_by("-created_at", "id")


def fee_get(organization: Organization, fee_id: Any) -> Fee:
    return found(first_with_id(fee_list(organization), fee_id), "fee")


# --- usage -----------------------------------------------------------------------------------------


def _usage_customer(customers: QuerySet[Customer], external_subscription_id: str | None) -> Customer:
    """The customer `customers` finds (404 `customer_not_found`), when the subscription's external id
    is given too (else 422 `value_is_mandatory` on `external_subscription_id`)."""
    customer = found(customers.first(), "customer")
    if not external_subscription_id:
        raise ValidationFailure.single("external_subscription_id", "value_is_mandatory")
    return customer


def usage_subscription(organization: Organization, external_customer_id: str, external_subscription_id: str | None):
    customers = Customer.objects.filter(
        organization=organization, external_id=external_customer_id, deleted_at__isnull=True
    ).select_related("organization")
    customer = _usage_customer(customers, external_subscription_id)
    sub = (
        Subscription.objects.filter(
            organization=organization, customer=customer, external_id=external_subscription_id,
            status=SubscriptionStatus.ACTIVE,
        )
        .select_related("plan", "customer__organization")
        .first()
    )  # fmt: skip
    if sub is None:
        raise NotFoundFailure("subscription")
    return customer, sub


# The customer columns current usage never reads (it needs the customer's id, organization, time
# zone and billing entity): left in the database. Besides their conversion, this keeps the
# statement under psycopg's 4,096 bytes, above which it parses the SQL text again at every
# execution. A statement-count test fails if one is read after all (one query more).
_USAGE_UNREAD_CUSTOMER_COLUMNS = (
    "slug", "name", "firstname", "lastname", "customer_type", "account_type", "email", "phone", "url", "logo_url",
    "legal_name", "legal_number", "tax_identification_number", "address_line1", "address_line2", "city",
    "zipcode", "state", "country", "shipping_address", "document_locale", "payment_provider",
    "payment_provider_code", "provider_customer_id", "provider_settings", "skip_invoice_custom_sections",
    "finalize_zero_amount_invoice",
)  # fmt: skip


# The reads of current usage, compiled once per process (billing_project.core.prepared): same querysets, same rows.
def _usage_subscription_query(p: Any) -> QuerySet[Subscription]:
    return Subscription.objects.filter(
        organization_id=p.organization, external_id=p.subscription, status=SubscriptionStatus.ACTIVE,
        customer__organization_id=p.organization, customer__external_id=p.customer, customer__deleted_at__isnull=True,
    ).select_related("plan", "customer").defer(*(f"customer__{name}" for name in _USAGE_UNREAD_CUSTOMER_COLUMNS))  # fmt: skip


_USAGE_SUBSCRIPTION = PreparedQuery(
    lambda p: _usage_subscription_query(p)[:1],  # what .first() reads: the model's ordering, one row
    organization=uuid.UUID, customer=str, subscription=str,
)  # fmt: skip

# On PostgreSQL the subscription's statement also carries what pricing and taxing its usage read
# (billing_project.core.json_rows): its plan's live charges, each with its metric, its live filters
# and its metric's live filter keys (`_USAGE_CHARGES_JSON`), and, unless taxes are left out, every
# tax current usage may apply, tagged with its level (`_USAGE_TAXES_JSON`, what `_USAGE_TAXES`
# reads): one statement instead of three (filters included), then the usage's own read.
_USAGE_CHARGES_JSON = "usage_charges_json"
_USAGE_TAXES_JSON = "usage_taxes_json"


@functools.cache
def _usage_charges_sql() -> str:
    """The live charges of the plan `%(expressions)s`, in `_USAGE_CHARGES`' order, as JSON text."""
    cols, table, column = json_rows.columns_sql, json_rows.table, json_rows.column
    filters = json_rows.list_sql(
        cols(ChargeFilter, "cf"),
        f"{table(ChargeFilter)} cf WHERE cf.{column(ChargeFilter, 'charge')} = c.id AND cf.deleted_at IS NULL",
        "cf.created_at, cf.id",
    )
    keys = json_rows.list_sql(
        f"mf.{column(BillableMetricFilter, 'key')}",
        f"{table(BillableMetricFilter)} mf WHERE mf.{column(BillableMetricFilter, 'billable_metric')} = m.id "
        "AND mf.deleted_at IS NULL",
        "mf.created_at, mf.id",
    )
    charges = json_rows.list_sql(
        f"{cols(Charge, 'c')}, {cols(BillableMetric, 'm')}, {filters}, {keys}",
        f"{table(Charge)} c JOIN {table(BillableMetric)} m ON m.id = c.{column(Charge, 'billable_metric')} "
        f"WHERE c.{column(Charge, 'plan')} = %(expressions)s AND c.deleted_at IS NULL",
        "c.created_at, c.id",
    )
    return f"({charges}::text)"


@functools.cache
def _usage_taxes_sql() -> str:
    """`_usage_taxes_query`'s rows for the subscription `%(expressions)s` (its plan, its customer,
    its organization), as JSON text: (id, code, name, rate, description, kind, owner, linked_at)."""
    table, column = json_rows.table, json_rows.column
    tax_id = column(ChargeTax, "tax")
    charge_links = (
        f"SELECT ct.{tax_id} AS tax, 'charge' AS kind, ct.{column(ChargeTax, 'charge')} AS owner, "  # noqa: S608 - identifiers
        f"ct.created_at AS linked_at FROM {table(ChargeTax)} ct JOIN {table(Charge)} ch "
        f"ON ch.id = ct.{column(ChargeTax, 'charge')} WHERE ch.{column(Charge, 'plan')} = su.plan_id "
        "AND ch.deleted_at IS NULL"
    )
    plan_links = (
        f"SELECT pt.{column(PlanTax, 'tax')}, 'plan', pt.{column(PlanTax, 'plan')}, pt.created_at "  # noqa: S608 - identifiers
        f"FROM {table(PlanTax)} pt WHERE pt.{column(PlanTax, 'plan')} = su.plan_id"
    )
    customer_links = (
        f"SELECT cu.{column(CustomerTax, 'tax')}, 'customer', cu.{column(CustomerTax, 'customer')}, "  # noqa: S608 - identifiers
        f"cu.created_at FROM {table(CustomerTax)} cu WHERE cu.{column(CustomerTax, 'customer')} = su.customer_id"
    )
    organization_taxes = (
        f"SELECT ot.id, 'organization', ot.{column(Tax, 'organization')}, ot.created_at FROM {table(Tax)} ot "  # noqa: S608 - identifiers
        f"WHERE ot.{column(Tax, 'organization')} = su.organization_id AND ot.applied_to_organization"
    )
    links = " UNION ALL ".join((charge_links, plan_links, customer_links, organization_taxes))
    rows = json_rows.list_sql(
        "t.id, t.code, t.name, t.rate::text, t.description, x.kind, x.owner, x.linked_at",
        f"{table(Subscription)} su CROSS JOIN LATERAL ({links}) x JOIN {table(Tax)} t ON t.id = x.tax "
        "WHERE su.id = %(expressions)s",
        "x.kind, x.owner, t.id",
    )
    return f"({rows}::text)"


def _usage_read_query(with_taxes: bool) -> Any:
    def build(p: Any) -> QuerySet[Subscription]:
        annotations = {_USAGE_CHARGES_JSON: Func(F("plan_id"), template=_usage_charges_sql(), output_field=TextField())}
        if with_taxes:
            annotations[_USAGE_TAXES_JSON] = Func(F("pk"), template=_usage_taxes_sql(), output_field=TextField())
        return _usage_subscription_query(p).annotate(**annotations)[:1]

    return build


_USAGE_READS = {
    with_taxes: PreparedQuery(_usage_read_query(with_taxes), organization=uuid.UUID, customer=str, subscription=str)
    for with_taxes in (False, True)
}
_USAGE_CHARGES = PreparedQuery(
    lambda p: (
        Charge.objects.filter(plan_id=p.plan, deleted_at__isnull=True)
        .select_related("billable_metric")
        .annotate(
            has_live_filters=Exists(ChargeFilter.objects.filter(charge=OuterRef("pk"), deleted_at__isnull=True)),
            metric_has_live_filters=Exists(
                BillableMetricFilter.objects.filter(
                    billable_metric=OuterRef("billable_metric_id"), deleted_at__isnull=True
                )
            ),
        )
        .order_by("created_at", "id")
    ),
    plan=uuid.UUID,
)
_TAX_COLUMNS = ("id", "code", "name", "rate", "description", "kind", "owner", "linked_at")


def _usage_taxes_query(p: Any) -> Any:
    """Every tax current usage may apply, each row tagged with the level it comes from."""
    first, *others = (
        part.order_by().values_list(*_TAX_COLUMNS)
        for part in (
            Tax.objects.filter(charge_links__charge__plan_id=p.plan, charge_links__charge__deleted_at__isnull=True)
            .annotate(kind=Value("charge"), owner=F("charge_links__charge_id"), linked_at=F("charge_links__created_at")),
            Tax.objects.filter(plan_links__plan_id=p.plan)
            .annotate(kind=Value("plan"), owner=F("plan_links__plan_id"), linked_at=F("plan_links__created_at")),
            Tax.objects.filter(customer_links__customer_id=p.customer)
            .annotate(kind=Value("customer"), owner=F("customer_links__customer_id"), linked_at=F("customer_links__created_at")),
            Tax.objects.filter(organization_id=p.organization, applied_to_organization=True)
            .annotate(kind=Value("organization"), owner=F("organization_id"), linked_at=F("created_at")),
        )
    )  # fmt: skip
    return first.union(*others, all=True)


_USAGE_TAXES = PreparedQuery(_usage_taxes_query, plan=uuid.UUID, customer=uuid.UUID, organization=uuid.UUID)


@dataclass(frozen=True)
class _UsageRead:
    """What current usage reads before the usage itself: the customer and the subscription (with
    its plan), the plan's live charges as pricing reads them, and the taxes that may apply (rows
    of `_usage_taxes_query`; None when taxes are left out)."""

    customer: Customer
    subscription: Subscription
    charges: list[ChargeSnapshot]
    tax_rows: list[tuple[Any, ...]] | None


def _usage_read(
    organization: Organization, external_customer_id: str, external_subscription_id: str | None, *, taxes: bool
) -> _UsageRead:
    """The customer, its subscription, the plan's charges and (`taxes`) the taxes that may apply: in
    one statement on PostgreSQL when both exist (JSON, `_USAGE_READS`), else one statement each;
    the error paths ask `usage_subscription` which is missing."""
    sub = None
    json = json_rows.supported(Subscription.objects.db)
    if external_subscription_id:
        values = {
            "organization": organization.id,
            "customer": external_customer_id,
            "subscription": external_subscription_id,
        }
        found = (_USAGE_READS[taxes] if json else _USAGE_SUBSCRIPTION).fetch(**values)
        sub = found[0] if found else None
    if sub is None:
        customer, sub = usage_subscription(organization, external_customer_id, external_subscription_id)
        json = False
    else:
        customer = sub.customer
        customer.organization = organization  # the caller's: the row is filtered on it
    if not json:
        charges = _charges(sub.plan)
        tax_rows = (
            _USAGE_TAXES.fetch(plan=sub.plan.id, customer=customer.id, organization=organization.id) if taxes else None
        )
        return _UsageRead(customer, sub, charges, tax_rows)
    charges = _charges_read(sub.__dict__.pop(_USAGE_CHARGES_JSON))
    tax_rows = None
    if taxes:
        tax_rows = [
            (uuid.UUID(tax_id), code, name, Decimal(rate), description, kind, uuid.UUID(owner), json_rows.datetime_value(linked_at))
            for tax_id, code, name, rate, description, kind, owner, linked_at in json_rows.loads(sub.__dict__.pop(_USAGE_TAXES_JSON))
        ]  # fmt: skip
    return _UsageRead(customer, sub, charges, tax_rows)


def _charges_read(text: str) -> list[ChargeSnapshot]:
    """`_charges` from the JSON text of `_usage_charges_sql`."""
    instance, related = json_rows.instance, json_rows.related
    charge_width, metric_width = json_rows.width(Charge), json_rows.width(BillableMetric)
    snapshots = []
    for row in json_rows.loads(text):
        charge = instance(Charge, row[:charge_width])
        metric = instance(BillableMetric, row[charge_width : charge_width + metric_width])
        related(charge, "billable_metric", metric)
        filters = [instance(ChargeFilter, values) for values in row[charge_width + metric_width]]
        for charge_filter in filters:
            related(charge_filter, "charge", charge)  # as the prefetch of `charge.filters` leaves it
        keys = [key for [key] in row[charge_width + metric_width + 1]]
        snapshots.append(ChargeSnapshot(charge=charge, filters=live_filters(filters), metric=metric_spec(metric, keys)))
    return snapshots


def _charges(plan: Any) -> list[ChargeSnapshot]:
    """The plan's live charges as pricing reads them; filters (and the metric's filter keys) are read
    only for charges that have some: `EXISTS` flags of the same statement tell, so a plan without
    filters costs one statement.
    """
    charges: list[Charge] = _USAGE_CHARGES.fetch(plan=plan.id)
    filtered = [charge for charge in charges if charge.has_live_filters]
    if filtered:
        prefetch_related_objects(filtered, "filters")
    return [
        ChargeSnapshot(
            charge=charge,
            filters=live_filters(charge.filters.all()) if charge.has_live_filters else (),
            metric=metric_spec(
                charge.billable_metric,
                charge.billable_metric.filters.filter(deleted_at__isnull=True).values_list("key", flat=True)
                if charge.metric_has_live_filters
                else (),
            ),
        )
        for charge in charges
    ]


def _usage_tax_resolver(
    organization: Organization,
    customer: Customer,
    plan: Any,
    charges: list[ChargeSnapshot],
    rows: list[tuple[Any, ...]],
) -> TaxResolver:
    """A `TaxResolver` for current usage, fed by the rows of one statement (`_usage_taxes_query`,
    or the same rows read with the subscription): the taxes of the plan's charges, of the plan, of
    the customer and the organization's defaults (each list in the order the resolver would read
    it), instead of one statement per level."""
    by_owner: dict[tuple[str, Any], list[tuple[Any, Tax]]] = defaultdict(list)
    for tax_id, code, name, rate, description, kind, owner, linked_at in rows:
        tax = Tax(id=tax_id, organization=organization, code=code, name=name, rate=rate, description=description)
        by_owner[(kind, owner)].append((linked_at, tax))

    def by_code(kind: str, owner: Any) -> list[Tax]:
        return [tax for _, tax in sorted(by_owner.get((kind, owner), []), key=lambda item: item[1].code)]

    owner_taxes = {("Charge", charge.id): by_code("charge", charge.id) for charge in charges}
    owner_taxes[("Plan", plan.id)] = by_code("plan", plan.id)
    customer_taxes = [
        tax for _, tax in sorted(by_owner.get(("customer", customer.id), []), key=lambda i: (i[0], i[1].code))
    ]
    return TaxResolver(
        organization,
        customer,
        organization_taxes=by_code("organization", organization.id),
        customer_taxes=customer_taxes,
        owner_taxes=owner_taxes,
    )


class _Projecting:
    """Lago's `projected_*` fields of usage entries (`invoicing/projection.py`)."""

    def __init__(self, at: projection.Progress, currency: str) -> None:
        self.at, self.currency = at, currency

    def fields(self, buckets: list[pricing.ChargeBucket], *, recurring: bool) -> UsageProjection:
        found = projection.project(buckets, recurring=recurring, at=self.at, currency=self.currency)
        return {
            "projected_units": pricing.decimal_string(found.units),
            "projected_amount_cents": found.amount_cents,
            "projected_presentation_breakdowns": [],
        }


def _filter_entry(bucket: pricing.ChargeBucket, projecting: _Projecting | None = None) -> UsageFilterShape:
    return usage_filter_payload(
        invoice_display_name=bucket.charge_filter.invoice_display_name or None if bucket.charge_filter else None,
        values=bucket.filter_values,
        units=bucket.current_usage_units,
        total_aggregated_units=bucket.total_aggregated_units,
        amount_cents=bucket.amount_cents,
        events_count=bucket.events_count,
        projection=(
            projecting.fields([bucket], recurring=bucket.charge.billable_metric.recurring) if projecting else None
        ),
    )


def _charge_usage(
    snapshot: ChargeSnapshot,
    buckets: list[pricing.ChargeBucket],
    currency: str,
    projecting: _Projecting | None = None,
) -> ChargeUsageShape:
    charge = snapshot.charge
    metric = charge.billable_metric
    has_filters = bool(snapshot.filters)
    grouped = bool(charge.pricing_group_keys)
    grouped_usage: list[GroupedUsageShape] = []
    if grouped:
        by_group: dict[tuple, list[pricing.ChargeBucket]] = defaultdict(list)
        for b in buckets:
            if b.grouped_by:
                by_group[tuple(sorted((k, str(v)) for k, v in b.grouped_by.items()))].append(b)
        for _, group in sorted(by_group.items()):
            grouped_usage.append(
                grouped_usage_payload(
                    grouped_by=pricing.plain(group[0].grouped_by),
                    units=sum((b.current_usage_units for b in group), Decimal(0)),
                    total_aggregated_units=sum((b.total_aggregated_units for b in group), Decimal(0)),
                    amount_cents=sum(b.amount_cents for b in group),
                    events_count=sum(b.events_count for b in group),
                    filters=[_filter_entry(b, projecting) for b in group] if has_filters else [],
                    projection=projecting.fields(group, recurring=metric.recurring) if projecting else None,
                )
            )
    # With filters, the charge's projection is its filters' (Lago leaves the default bucket out).
    projected = [b for b in buckets if b.charge_filter is not None] if has_filters else buckets
    return charge_usage_payload(
        charge,
        units=sum((b.current_usage_units for b in buckets), Decimal(0)),  # prorated charges: the full units
        total_aggregated_units=sum((b.total_aggregated_units for b in buckets), Decimal(0)),
        events_count=sum(b.events_count for b in buckets),
        amount_cents=sum(b.amount_cents for b in buckets),
        currency=currency,
        filters=[_filter_entry(b, projecting) for b in buckets] if has_filters and not grouped else [],
        grouped_usage=grouped_usage,
        projection=projecting.fields(projected, recurring=metric.recurring) if projecting else None,
    )


def _bulk_usage(
    organization: Organization, sub: Subscription, charges: list[ChargeSnapshot], window: Any, starts: ChainStarts
) -> dict[Any, Any]:
    """The usage of every charge `metering.bulk` answers (count / sum / max without filters or
    groups: one rollup query for all of them, the same answer as `aggregate()`), by charge id;
    `price_charge` aggregates the others itself."""
    wanted: list[tuple[Any, UsageRequest]] = []
    for charge in charges:
        request = pricing.usage_request(sub, charge, window, starts)
        if request is not None:
            wanted.append((charge.id, request))
    if not wanted:
        return {}
    answers = aggregate_many(organization, [request for _, request in wanted])
    return dict(zip((charge_id for charge_id, _ in wanted), answers, strict=True))


def current_usage(
    organization: Organization,
    *,
    external_customer_id: str,
    external_subscription_id: str | None,
    apply_taxes: bool = True,
    at: dt.datetime | None = None,
    projected: bool = False,
) -> CustomerUsageShape:
    """Lago's `customer_usage`: the usage of the current charges window, priced like the invoice.

    Every charge of the plan appears, with zero usage too; `amount_cents` covers charges only.
    `projected`: Lago's `customer_projected_usage`, the same with every entry's projection to the
    window's end (`invoicing/projection.py`) and the charges' total `projected_amount_cents`.
    """
    at = at or timezone.now()
    read = _usage_read(organization, external_customer_id, external_subscription_id, taxes=apply_taxes)
    customer, sub, charges = read.customer, read.subscription, read.charges
    schedule = schedule_for(sub)
    if schedule is None:
        raise NotFoundFailure("subscription")
    window = periods.charges_window_at(schedule, at)
    currency = sub.plan.amount_currency
    resolver = (
        _usage_tax_resolver(organization, customer, sub.plan, charges, read.tax_rows)
        if read.tax_rows is not None
        else None
    )
    starts = ChainStarts()  # the subscription chain's initial start, read once if a recurring metric asks
    usage = _bulk_usage(organization, sub, charges, window, starts)
    projecting = (
        _Projecting(projection.progress(window, at, customer.applicable_timezone), currency) if projected else None
    )
    charges_usage: list[ChargeUsageShape] = []
    lines: list[FeeLine] = []
    for charge in charges:
        buckets = pricing.price_charge(
            organization,
            external_subscription_id=sub.external_id,
            charge=charge,
            window=window,
            started_at=pricing.usage_started_at(sub, charge.charge, starts),
            currency=currency,
            schedule=schedule,
            usage=usage.get(charge.id),
        )
        charges_usage.append(_charge_usage(charge, buckets, currency, projecting))
        taxes = tax_rates(resolver.taxes_for(plan=sub.plan, charge=charge.charge)) if resolver is not None else ()
        for index, bucket in enumerate(buckets):
            lines.append(
                FeeLine(
                    id=f"{charge.id}:{index}",
                    fee_type="charge",
                    amount_cents=bucket.amount_cents,
                    precise_amount_cents=pricing.precise_cents(bucket.amount, currency),
                    taxes=taxes,
                )
            )
    totals = calculate_invoice(lines, currency=currency, context=Context.DRAFT)
    return customer_usage_payload(
        from_datetime=window.start,
        to_datetime=window.to_datetime,
        issuing_date=periods.local_date(window.end, customer.applicable_timezone),
        currency=currency,
        lago_invoice_id=None,
        amount_cents=totals.fees_amount_cents,
        taxes_amount_cents=totals.taxes_amount_cents,
        total_amount_cents=totals.fees_amount_cents + totals.taxes_amount_cents,
        charges_usage=charges_usage,
        projected_amount_cents=(
            sum(c.get("projected_amount_cents", 0) for c in charges_usage) if projecting is not None else None
        ),
    )


def past_usage_periods(
    organization: Organization,
    *,
    external_customer_id: str,
    external_subscription_id: str | None,
    billable_metric_code: str | None = None,
    periods_count: int | None = None,
) -> QuerySet[InvoiceSubscription]:
    customers = Customer.objects.filter(
        organization=organization, external_id=external_customer_id, deleted_at__isnull=True
    )
    customer = _usage_customer(customers, external_subscription_id)
    qs = (
        InvoiceSubscription.objects.filter(
            organization=organization,
            subscription__customer=customer,
            subscription__external_id=external_subscription_id,
            invoice__status__in=[InvoiceStatus.FINALIZED, InvoiceStatus.DRAFT],
        )
        .exclude(charges_to_datetime=models_f("charges_from_datetime"))
        .select_related("invoice", "subscription")
        .order_by("-charges_to_datetime", "id")
    )
    if periods_count:
        ids = list(qs.values_list("id", flat=True)[:periods_count])
        qs = qs.filter(id__in=ids)
    return qs


def models_f(name: str) -> Any:
    from django.db.models import F

    return F(name)


def past_usage_payload(row: InvoiceSubscription, *, billable_metric_code: str | None = None) -> CustomerUsageShape:
    """An invoiced period's usage (`GET /customers/{external_id}/past_usage`), from its charge fees."""
    invoice = row.invoice
    fees = (
        Fee.objects.filter(invoice_subscription=row, fee_type="charge")
        .select_related("charge__billable_metric", "charge_filter")
        .order_by("created_at", "id")
    )
    if billable_metric_code:
        fees = fees.filter(charge__billable_metric__code=billable_metric_code)
    by_charge: dict[Any, list[Fee]] = defaultdict(list)
    for fee in fees:
        by_charge[fee.charge_id].append(fee)
    charges_usage = []
    for charge_fees in by_charge.values():
        charge = charge_fees[0].charge
        assert charge is not None  # charge fees
        filtered = any(f.charge_filter_id or (f.properties or {}).get("filter_values") is not None for f in charge_fees)
        filters = (
            []
            if not filtered
            else [
                usage_filter_payload(
                    invoice_display_name=(
                        f.charge_filter.invoice_display_name or None if f.charge_filter_id and f.charge_filter else None
                    ),
                    values=(f.properties or {}).get("filter_values"),
                    units=f.units,
                    total_aggregated_units=f.total_aggregated_units,
                    amount_cents=f.amount_cents,
                    events_count=f.events_count,
                    breakdowns=False,
                )
                for f in charge_fees
            ]
        )
        charges_usage.append(
            charge_usage_payload(
                charge,
                units=sum((f.units for f in charge_fees), Decimal(0)),
                total_aggregated_units=sum((f.total_aggregated_units for f in charge_fees), Decimal(0)),
                events_count=sum(f.events_count for f in charge_fees),
                amount_cents=sum(f.amount_cents for f in charge_fees),
                currency=invoice.currency,
                filters=filters,
                grouped_usage=[],
            )
        )
    return customer_usage_payload(
        from_datetime=row.charges_from_datetime,
        to_datetime=row.charges_to_datetime - periods.ONE_SECOND,
        issuing_date=invoice.issuing_date,
        currency=invoice.currency,
        lago_invoice_id=str(invoice.id),
        amount_cents=invoice.fees_amount_cents,
        taxes_amount_cents=invoice.taxes_amount_cents,
        total_amount_cents=invoice.total_amount_cents,
        charges_usage=charges_usage,
    )
