"""The credit note PDF's reads, compiled once per process (`invoicing.credits.services.documents`),
give the document the ORM's reads gave it, for notes of varied invoices; and the statements."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import AddOn
from invoicing.credits.models import CreditNote
from invoicing.credits.services.documents import credit_note_document, credit_note_generate_pdf
from invoicing.pdf import CreditNoteDocument, DocumentLine, document_taxes
from invoicing.services.documents import _party
from invoicing.services.lifecycle import invoice_billing_entity
from invoicing.services.one_off import invoice_create_one_off
from tests.factories.catalog import TaxFactory
from tests.factories.credits import make_credit_note
from tests.factories.customers import BillingEntityFactory
from tests.factories.invoicing import make_customer

pytestmark = pytest.mark.django_db


def _orm_document(note_id) -> CreditNoteDocument:
    """The document as the task built it from ORM reads before they were compiled."""
    note = CreditNote.objects.select_related("organization", "customer__organization", "invoice").get(id=note_id)
    entity = invoice_billing_entity(note.invoice)
    customer = note.customer
    return CreditNoteDocument(
        number=note.number,
        invoice_number=note.invoice.number,
        issuing_date=note.issuing_date,
        currency=note.currency,
        organization=_party(entity, name=entity.name),
        customer=_party(customer, name=customer.name or customer.external_id),
        lines=tuple(
            DocumentLine(description=item.fee.invoice_display_name or item.fee.fee_type, amount_cents=item.amount_cents)
            for item in note.items.select_related("fee").order_by("created_at", "id")
        ),
        taxes=document_taxes(note.applied_taxes.all(), "base_amount_cents"),
        sub_total_excluding_taxes_amount_cents=note.sub_total_excluding_taxes_amount_cents,
        taxes_amount_cents=note.taxes_amount_cents,
        total_amount_cents=note.total_amount_cents,
        coupons_adjustment_amount_cents=note.coupons_adjustment_amount_cents,
        credit_amount_cents=note.credit_amount_cents,
        refund_amount_cents=note.refund_amount_cents,
        offset_amount_cents=note.offset_amount_cents,
        reason=note.reason,
        description=note.description,
        footer=entity.invoice_footer or "",
    )


def _invoice(customer, *fees):
    lines = []
    for n, (amount, name) in enumerate(fees):
        add_on = AddOn.objects.create(organization=customer.organization, name=f"a{n}", code=f"a_{customer.pk}_{n}",
                                      amount_cents=amount, amount_currency="USD")  # fmt: skip
        lines.append({"add_on_code": add_on.code, **({"invoice_display_name": name} if name else {})})
    return invoice_create_one_off(customer.organization, external_customer_id=customer.external_id, fees=lines)


@pytest.fixture
def notes(tenant):
    org = tenant.organization
    TaxFactory(organization=org, code="vat", rate="20", applied_to_organization=True)
    TaxFactory(organization=org, code="local", rate="5", applied_to_organization=True)
    eu = BillingEntityFactory(organization=org, code="eu", legal_name="Acme Europe SAS", city="Paris",
                              invoice_footer="RCS Paris 123")  # fmt: skip
    plain = make_customer(org, sequential_id=3, name="", email="a@x.example,b@x.example")
    billed = make_customer(org, sequential_id=4, billing_entity=eu, address_line1="1 rue", zipcode="75001")
    first = _invoice(plain, (1000, "Setup"), (250, None))
    second = _invoice(billed, (5000, None))
    fees = list(first.fees.order_by("created_at", "id"))
    return [
        # items before taxes (25% here), the note's amounts with them
        make_credit_note(first, items=[{"fee_id": str(fees[0].id), "amount_cents": 100}], credit=125),
        make_credit_note(
            first,
            items=[{"fee_id": str(fees[0].id), "amount_cents": 60}, {"fee_id": str(fees[1].id), "amount_cents": 40}],
            credit=125,
        ),
        make_credit_note(second, items=[{"fee_id": str(second.fees.get().id), "amount_cents": 500}], offset=625),
    ]


def test_the_compiled_reads_give_the_document_the_orm_reads_gave(notes):
    for note in notes:
        [compiled] = [credit_note_document(n) for n in [CreditNote.objects.get(id=note.id)]]
        assert compiled == _orm_document(note.id)
    assert len(_orm_document(notes[1].id).lines) == 2 and _orm_document(notes[1].id).taxes


def test_the_task_reads_three_statements_before_it_stores_the_file(notes, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    for note in notes:
        credit_note_generate_pdf(str(note.id))  # compiled on the first
    with CaptureQueriesContext(connection) as captured:
        stored = credit_note_generate_pdf(str(notes[2].id), force=True)
    assert stored is not None and stored.file
    statements = [q["sql"] for q in captured.captured_queries]
    reads = [
        sql
        for sql in statements[: next(n for n, sql in enumerate(statements) if "FOR UPDATE" in sql)]
        if sql.startswith("SELECT")
    ]  # before the lock
    assert len(reads) == 3, reads  # the note with its invoice and entities, its items, its taxes
    with CaptureQueriesContext(connection) as uncompiled:
        _orm_document(notes[2].id)
    assert len(uncompiled.captured_queries) == 5  # the reads as they were: the invoice's customer and entity apart
    assert credit_note_generate_pdf("00000000-0000-0000-0000-000000000000") is None
