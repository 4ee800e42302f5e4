"""Drafts and the grace period, finalization, numbering, zero amounts, void, overdue, PDFs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from billing_project.core.errors import NotAllowedFailure, NotFoundFailure, ValidationFailure
from customers.models import Organization
from invoicing import tasks
from invoicing.billing.run import customer_bill
from invoicing.models import Invoice, InvoiceStatus
from invoicing.services import (
    document_prefix,
    invoice_create_one_off,
    invoice_finalize,
    invoice_finalize_if_due,
    invoice_refresh,
    invoice_update,
    invoice_void,
    invoices_mark_overdue,
)
from tests.factories.catalog import AddOnFactory
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def endpoint(organization):
    return WebhookEndpoint.objects.create(organization=organization, webhook_url="http://127.0.0.1:9/hook")


def webhook_types(organization) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(organization=organization)
        .order_by("created_at")
        .values_list("webhook_type", flat=True)
    )


def usage_setup(organization, *, grace: int | None = None):
    customer = make_customer(organization, invoice_grace_period=grace)
    plan = make_plan(organization, amount_cents=1000)
    metric = make_metric(organization, "calls")
    make_charge(plan, metric, properties={"amount": "1"})
    sub = subscribe(customer, plan, at(2024, 1, 1))
    return customer, sub


def test_grace_period_keeps_a_draft_refresh_then_finalize(organization, endpoint):
    customer, sub = usage_setup(organization, grace=3)
    add_events(sub, "calls", [at(2024, 1, 10)] * 2)
    [draft] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert draft.status == InvoiceStatus.DRAFT
    assert draft.number == f"{document_prefix(organization)}-DRAFT"
    assert draft.fees_amount_cents == 1200
    assert draft.finalize_at == at(2024, 2, 4)
    # a late event of January arrives during the grace period
    add_events(sub, "calls", [at(2024, 1, 31, 23)])
    refreshed = invoice_refresh(organization, invoice_id=draft.id)
    assert refreshed.fees_amount_cents == 1300
    assert invoice_finalize_if_due(draft.id, now=at(2024, 2, 3)) is None  # grace period not over
    final = invoice_finalize_if_due(draft.id, now=at(2024, 2, 4, 0, 30))
    assert final.status == InvoiceStatus.FINALIZED
    assert final.number.endswith("-001")
    assert final.issuing_date.isoformat() == "2024-02-04"
    # a later late event never reaches a finalized invoice
    add_events(sub, "calls", [at(2024, 1, 31, 23, 30)])
    assert invoice_refresh(organization, invoice_id=draft.id).fees_amount_cents == 1300
    with pytest.raises(NotFoundFailure):
        invoice_finalize(organization, invoice_id=draft.id)
    assert webhook_types(organization) == ["invoice.drafted", "invoice.created"]


def test_organization_grace_period_applies_when_customer_has_none(organization):
    organization.invoice_grace_period = 2
    organization.save()
    customer, _ = usage_setup(organization)
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.status == InvoiceStatus.DRAFT
    assert invoice.finalize_at == at(2024, 2, 3)
    invoice.finalize_at = at(2999, 1, 1)
    invoice.save()
    assert tasks.finalize_drafts_sweep.apply().get() == 0
    invoice.finalize_at = at(2020, 1, 1)
    invoice.save()
    assert tasks.finalize_drafts_sweep.apply().get() == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.FINALIZED


def test_numbering_per_customer_and_per_organization(organization):
    from customers.inputs import OrganizationUpdate
    from customers.services import organization_update

    # Through the service: the default billing entity, whose numbering numbers, follows.
    organization_update(organization, OrganizationUpdate(document_number_prefix="BENT"))
    first = make_customer(organization, sequential_id=1)
    second = make_customer(organization, sequential_id=2)
    plan = make_plan(organization, amount_cents=1000)
    subscribe(first, plan, at(2024, 1, 1))
    subscribe(second, plan, at(2024, 1, 1))
    [a1] = customer_bill(first.id, at=at(2024, 2, 1, 1))
    [b1] = customer_bill(second.id, at=at(2024, 2, 1, 1))
    [a2] = customer_bill(first.id, at=at(2024, 3, 1, 1))
    assert [a1.number, b1.number, a2.number] == ["BENT-001-001", "BENT-002-001", "BENT-001-002"]
    organization_update(organization, OrganizationUpdate(document_numbering="per_organization"))
    [b2] = customer_bill(second.id, at=at(2024, 3, 1, 1))
    assert b2.number == "BENT-202403-004"  # the organization-wide sequence continues


def test_default_prefix():
    org = Organization(
        document_number_prefix="", name="bent corp", id=uuid.UUID("0b1c2d3e-aaaa-bbbb-cccc-ddddeeee12ab")
    )

    assert document_prefix(org) == "BEN-12AB"


def test_zero_amount_invoice_skipped_or_finalized(organization):
    customer = make_customer(organization, finalize_zero_amount_invoice="skip")
    plan = make_plan(organization, amount_cents=0)
    subscribe(customer, plan, at(2024, 1, 1))
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.status == InvoiceStatus.CLOSED
    assert invoice.number.endswith("-DRAFT") or invoice.number == ""
    other = make_customer(organization)
    subscribe(other, plan, at(2024, 1, 1))
    [finalized] = customer_bill(other.id, at=at(2024, 2, 1, 1))
    assert finalized.status == InvoiceStatus.FINALIZED
    assert finalized.payment_status == "succeeded"


def test_void_gives_nothing_due_and_refuses_twice(organization, endpoint):
    customer, _ = usage_setup(organization)
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    voided = invoice_void(organization, invoice_id=invoice.id)
    assert voided.status == InvoiceStatus.VOIDED
    assert voided.total_due_amount_cents == 0
    assert voided.voided_at is not None
    with pytest.raises(NotAllowedFailure) as err:
        invoice_void(organization, invoice_id=invoice.id)
    assert err.value.code == "not_voidable"
    with pytest.raises(NotAllowedFailure) as err:
        invoice_update(organization, invoice_id=invoice.id, payment_status="succeeded")
    assert err.value.code == "update_on_voided_invoice"
    assert "invoice.voided" in webhook_types(organization)


def test_void_gives_the_coupon_back(organization):
    from tests.factories.catalog import AppliedCouponFactory, CouponFactory

    customer, _ = usage_setup(organization)
    applied = AppliedCouponFactory(
        coupon=CouponFactory(organization=organization, amount_cents=300), organization=organization, customer=customer
    )
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.coupons_amount_cents == 300
    applied.refresh_from_db()
    assert applied.status == "terminated" and applied.amount_cents_remaining == 0
    invoice_void(organization, invoice_id=invoice.id)
    applied.refresh_from_db()
    assert applied.status == "active" and applied.amount_cents_remaining == 300


def test_draft_cannot_be_voided(organization):
    customer, _ = usage_setup(organization, grace=1)
    [draft] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    with pytest.raises(NotAllowedFailure):
        invoice_void(organization, invoice_id=draft.id)


def test_payment_overdue_after_net_payment_term(organization, endpoint):
    customer = make_customer(organization, net_payment_term=30)
    plan = make_plan(organization, amount_cents=1000)
    subscribe(customer, plan, at(2024, 1, 1))
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.payment_due_date.isoformat() == "2024-03-02"
    assert invoices_mark_overdue(now=at(2024, 3, 2, 12)) == 0
    assert invoices_mark_overdue(now=at(2024, 3, 3, 0, 30)) == 1
    assert invoices_mark_overdue(now=at(2024, 3, 4)) == 0
    invoice.refresh_from_db()
    assert invoice.payment_overdue is True
    assert webhook_types(organization)[-1] == "invoice.payment_overdue"
    paid = invoice_update(organization, invoice_id=invoice.id, payment_status="succeeded")
    assert paid.payment_overdue is False and paid.total_due_amount_cents == 0


def test_update_metadata_and_invalid_payment_status(organization):
    customer, _ = usage_setup(organization)
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    updated = invoice_update(organization, invoice_id=invoice.id, metadata=[{"key": "po", "value": "42"}])
    updated = invoice_update(organization, invoice_id=invoice.id, metadata=[{"key": "po", "value": "43"}])
    assert [(m["key"], m["value"]) for m in updated.metadata] == [("po", "43")]
    with pytest.raises(ValidationFailure):
        invoice_update(organization, invoice_id=invoice.id, payment_status="paid")


def test_one_off_invoice(organization, endpoint):
    from catalog.models import AddOnTax
    from tests.factories.invoicing import make_tax

    customer = make_customer(organization)
    add_on = AddOnFactory(organization=organization, amount_cents=5000)
    AddOnTax.objects.create(add_on=add_on, tax=make_tax(organization, "10"))
    invoice = invoice_create_one_off(
        organization,
        external_customer_id=customer.external_id,
        fees=[{"add_on_code": add_on.code, "units": "2.5"}, {"add_on_code": add_on.code, "unit_amount_cents": "333"}],
    )
    assert invoice.invoice_type == "one_off"
    assert invoice.status == InvoiceStatus.FINALIZED
    assert invoice.fees_amount_cents == 12500 + 333
    assert invoice.taxes_amount_cents == 1283  # 10 % of 12,833 = 1,283.3
    assert invoice.total_amount_cents == 14116
    with pytest.raises(NotFoundFailure):
        invoice_create_one_off(organization, external_customer_id=customer.external_id, fees=[{"add_on_code": "nope"}])
    # multi-currency: a one-off invoice in the request's currency, the customer's default unchanged
    euros = invoice_create_one_off(
        organization, external_customer_id=customer.external_id, currency="EUR", fees=[{"add_on_code": add_on.code}]
    )
    assert (euros.currency, euros.total_amount_cents, euros.fees.get().currency) == ("EUR", 5500, "EUR")
    customer.refresh_from_db()
    assert customer.currency == invoice.currency != "EUR"
    with pytest.raises(ValidationFailure):  # still a real ISO 4217 code
        invoice_create_one_off(
            organization,
            external_customer_id=customer.external_id,
            currency="EURO",
            fees=[{"add_on_code": add_on.code}],
        )


def test_pdf_generated_after_finalization(organization, django_capture_on_commit_callbacks):
    customer, sub = usage_setup(organization)
    add_events(sub, "calls", [at(2024, 1, 10)])
    with django_capture_on_commit_callbacks(execute=True):
        [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    invoice.refresh_from_db()
    assert invoice.file  # the task enqueued on commit ran (eager in tests)
    with invoice.file.open("rb") as handle:
        text = "".join(page.extract_text() for page in PdfReader(handle).pages)
    assert invoice.number in text
    assert "11.00 USD" in text


def test_billing_sweep_task_records_the_run(organization, django_capture_on_commit_callbacks):
    from invoicing.models import BillingRun

    customer, _ = usage_setup(organization)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.billing_sweep.apply(args=(at(2024, 2, 1, 1).isoformat(),)).get() == 1
    assert Invoice.objects.filter(customer=customer).count() == 1
    run = BillingRun.objects.get()
    assert run.customers_due == 1
    assert run.invoices_created == 1
    assert run.status == "succeeded"
    assert tasks.billing_sweep.apply(args=(at(2024, 2, 1, 2).isoformat(),)).get() == 0


def test_run_billing_command(organization, capsys):
    from django.core.management import call_command

    customer, _ = usage_setup(organization)
    call_command("run_billing", "--at", "2024-02-01T01:00:00Z", "--dry-run")
    assert Invoice.objects.count() == 0
    call_command("run_billing", "--date", "2024-02-01")
    out = capsys.readouterr().out
    assert "1 invoices created" in out
    assert Invoice.objects.filter(customer=customer).count() == 1


def test_customer_currency_is_a_default_that_may_change_after_invoicing(organization):
    """Lago's multi-currency rule: the customer's currency is its default, not a lock; invoices
    keep the currency of their subscriptions."""
    from customers.inputs import CustomerUpsert
    from customers.services import customer_upsert

    customer, _ = usage_setup(organization)
    [first] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    customer_upsert(organization, CustomerUpsert(external_id=customer.external_id, currency="EUR"))
    customer.refresh_from_db()
    assert customer.currency == "EUR"
    [second] = customer_bill(customer.id, at=at(2024, 3, 1, 1))
    assert (first.currency, second.currency) == ("USD", "USD")  # the plan's currency, not the default


def test_seed_demo_bills(organization):
    from customers.demo import seed_demo

    _, _, lines = seed_demo()
    assert any(line.startswith("invoices:") for line in lines)
    _, _, again = seed_demo()
    assert any("(0 new)" in line for line in again if line.startswith("invoices:"))
