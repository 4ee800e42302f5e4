"""The invoicing admin: lists with money and filters, fees inline, actions through the services."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.urls import reverse

from invoicing.admin import InvoiceAdmin
from invoicing.billing.run import customer_bill
from invoicing.billing.runs import billing_run_start
from invoicing.models import Invoice, InvoiceStatus
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:invoicing_invoice_changelist"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


@pytest.fixture
def invoices(organization):
    finalized_customer = make_customer(organization, name="Final Ltd")
    draft_customer = make_customer(organization, name="Draft Ltd", invoice_grace_period=3)
    plan = make_plan(organization, amount_cents=123456)
    subscribe(finalized_customer, plan, datetime(2024, 1, 1, tzinfo=UTC))
    subscribe(draft_customer, plan, datetime(2024, 1, 1, tzinfo=UTC))
    [final] = customer_bill(finalized_customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    [draft] = customer_bill(draft_customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    return final, draft


def test_pages_load(admin_client, invoices):
    final, _ = invoices
    billing_run_start(datetime(2024, 2, 1, 1, tzinfo=UTC), trigger="command")
    page = admin_client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert "1,234.56 USD" in page.content.decode()
    for query in ("?status__exact=draft", "?overdue=yes", "?currency__exact=USD", f"?q={final.number}", "?q=Final"):
        assert admin_client.get(reverse(CHANGELIST) + query).status_code == 200
    change = admin_client.get(reverse("admin:invoicing_invoice_change", args=[final.pk]))
    assert change.status_code == 200 and "1,234.56 USD" in change.content.decode()
    for name in ("invoicing_fee", "invoicing_billingrun"):
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200
    run_page = admin_client.get(reverse("admin:invoicing_billingrun_changelist")).content.decode()
    assert "command" in run_page
    pdf = admin_client.get(reverse("admin:invoicing_invoice_pdf", args=[final.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


def _post(admin_client, action, invoice, **extra):
    return admin_client.post(
        reverse(CHANGELIST), {"action": action, helpers.ACTION_CHECKBOX_NAME: [str(invoice.pk)], **extra}, follow=True
    )


def test_actions(admin_client, invoices):
    final, draft = invoices
    _post(admin_client, "refresh_drafts", draft)
    confirm = _post(admin_client, "finalize_drafts", draft)
    assert b"Finalizing is final" in confirm.content
    assert b"issuing date" in confirm.content
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.DRAFT  # not before the confirmation
    _post(admin_client, "finalize_drafts", draft, confirm="yes")
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.FINALIZED
    assert not hasattr(InvoiceAdmin, "mark_paid")  # a paid amount without a payment row: gone
    confirm = _post(admin_client, "void_invoices", final)
    assert b"Voiding is final" in confirm.content
    final.refresh_from_db()
    assert final.status == InvoiceStatus.FINALIZED  # not before the confirmation
    done = _post(admin_client, "void_invoices", final, confirm="yes")
    assert b"Voided" in done.content
    final.refresh_from_db()
    assert final.status == InvoiceStatus.VOIDED
    refused = _post(admin_client, "void_invoices", final, confirm="yes")
    assert b"Refused" in refused.content
    pdf = _post(admin_client, "download_pdf", final)
    assert pdf["Content-Type"] == "application/pdf"
    assert Invoice.objects.count() == 2
