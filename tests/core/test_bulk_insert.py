"""`billing_project.core.bulk.insert_rows`: the rows `bulk_create` would write (values, defaults,
timestamps, JSON, NULLs, choices), by COPY on PostgreSQL, and Django's IntegrityError on a clash;
`new_row`: the instance `Model(**values)` builds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing_project.core.bulk import insert_rows, new_row
from invoicing.models import Fee, FeeType, Invoice
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db


def _fee(sub, **extra):
    return Fee(
        organization_id=sub.organization_id, customer_id=sub.customer_id, subscription=sub,
        fee_type=FeeType.FIXED_CHARGE, invoice_display_name="Seats", currency="USD", units=Decimal("2.5"),
        amount_cents=1234, precise_amount_cents=Decimal("1234.4999999"), properties={"a": ["b", 1]}, **extra,
    )  # fmt: skip


def test_rows_as_bulk_create_writes_them(organization):
    from datetime import UTC, datetime

    sub = subscribe(make_customer(organization), make_plan(organization), datetime(2025, 1, 1, tzinfo=UTC))
    fast, slow = _fee(sub), _fee(sub)
    insert_rows(Fee, [fast])
    Fee.objects.bulk_create([slow])
    assert not fast._state.adding
    fields = [f.attname for f in Fee._meta.concrete_fields if f.attname not in ("id", "created_at", "updated_at")]
    got = Fee.objects.filter(pk=fast.pk).values(*fields).get()
    expected = Fee.objects.filter(pk=slow.pk).values(*fields).get()
    assert got == expected
    assert got["properties"] == {"a": ["b", 1]} and got["invoice_id"] is None and got["payment_status"] == "pending"
    row = Fee.objects.get(pk=fast.pk)
    assert row.created_at is not None and row.created_at == row.updated_at


def test_a_clash_is_djangos_integrity_error(organization):
    from datetime import UTC, datetime

    sub = subscribe(make_customer(organization), make_plan(organization), datetime(2025, 1, 1, tzinfo=UTC))
    fee = _fee(sub)
    insert_rows(Fee, [fee])
    again = _fee(sub)
    again.pk = fee.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Fee, [again])
    assert Fee.objects.count() == 1


def _state(instance):
    values = {k: v for k, v in instance.__dict__.items() if k not in ("_state", "id")}
    return values, dict(instance._state.fields_cache), instance._state.adding, instance._state.db


def test_new_row_is_the_instance_the_constructor_builds(organization):
    from datetime import UTC, datetime

    sub = subscribe(make_customer(organization), make_plan(organization), datetime(2025, 1, 1, tzinfo=UTC))
    values = {
        "organization_id": sub.organization_id, "customer_id": sub.customer_id, "subscription": sub, "charge": None,
        "fee_type": FeeType.FIXED_CHARGE, "invoice_display_name": "Seats", "currency": "USD",
        "units": Decimal("2.5"), "amount_cents": 1234, "properties": {"a": 1},
    }  # fmt: skip
    fast, slow = new_row(Fee, **values), Fee(**values)
    assert _state(fast) == _state(slow)
    assert fast.pk is not None and fast.pk != slow.pk  # a fresh id per row, as the field's default gives
    assert fast.amount_details == {} and fast.amount_details is not new_row(Fee, **values).amount_details
    assert fast.subscription is sub and fast.subscription_id == sub.pk
    invoice = new_row(Invoice, organization=organization, customer=sub.customer, currency="USD")
    assert _state(invoice)[0] == _state(Invoice(organization=organization, customer=sub.customer, currency="USD"))[0]
    assert not invoice.file  # a file field through its descriptor, empty
    with pytest.raises(TypeError):  # an unknown keyword: Django's own error
        new_row(Fee, nope=1)


def test_values_are_read_as_the_descriptors_read_them(organization):
    """A foreign key's id, a file field's name and a JSON value read from the row's `__dict__` are
    stored as `bulk_create` stores them."""
    from datetime import date

    from invoicing.models import InvoiceType
    from invoicing.services.lifecycle import invoice_new

    customer, day = make_customer(organization), date(2025, 1, 31)
    fields = [f.attname for f in Invoice._meta.concrete_fields if f.attname not in ("id", "created_at", "updated_at")]
    stored = []
    for insert in (lambda rows: insert_rows(Invoice, rows), Invoice.objects.bulk_create):
        named = invoice_new(organization, customer, InvoiceType.SUBSCRIPTION, "USD", day)
        named.file = "invoices/a.pdf"
        plain = invoice_new(organization, customer, InvoiceType.SUBSCRIPTION, "EUR", day)
        plain.metadata = {"k": "v"}
        insert([named, plain])
        stored.append([Invoice.objects.filter(pk=row.pk).values(*fields).get() for row in (named, plain)])
    assert stored[0] == stored[1]
    assert stored[0][0]["file"] == "invoices/a.pdf" and stored[0][0]["customer_id"] == customer.pk
