"""Lago's official Python client sends `billing_entity_code`, `invoice_custom_section` and
`purchase_order_number` with a subscription and a one-off invoice, against a live server."""

from __future__ import annotations

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import Customer, Subscription
from lago_python_client.models.invoice import InvoiceFee, InvoiceFeesList, OneOffInvoice
from lago_python_client.models.invoice_custom_section import InvoiceCustomSectionInput

from catalog.models import AddOn
from customers.models import InvoiceCustomSection
from tests.factories.customers import BillingEntityFactory
from tests.factories.invoicing import make_plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_subscription_and_one_off_invoice_choose_their_entity_and_sections(lago):
    client, organization = lago.client, lago.organization
    BillingEntityFactory(organization=organization, code="eu", document_number_prefix="EU")
    InvoiceCustomSection.objects.create(organization=organization, code="iban", name="IBAN", details="FR76")
    make_plan(organization, amount_cents=1000, code="basic")
    AddOn.objects.create(organization=organization, code="setup", name="Setup", amount_cents=500, amount_currency="USD")
    client.customers.create(Customer(external_id="cus", currency="USD"))

    sections = InvoiceCustomSectionInput(invoice_custom_section_codes=["iban"])
    subscription = client.subscriptions.create(
        Subscription(external_customer_id="cus", plan_code="basic", external_id="sub", billing_entity_code="eu",
                     purchase_order_number="PO-1", invoice_custom_section=sections)
    )  # fmt: skip
    assert subscription.billing_entity_code == "eu" and subscription.purchase_order_number == "PO-1"
    [applied] = subscription.applied_invoice_custom_sections.__root__
    assert applied.invoice_custom_section.code == "iban"

    invoice = client.invoices.create(
        OneOffInvoice(external_customer_id="cus", currency="USD", billing_entity_code="eu",
                      purchase_order_number="PO-2", invoice_custom_section=sections,
                      fees=InvoiceFeesList(__root__=[InvoiceFee(add_on_code="setup")]))
    )  # fmt: skip
    assert invoice.billing_entity_code == "eu" and invoice.purchase_order_number == "PO-2"
    assert [s.code for s in invoice.applied_invoice_custom_sections.__root__] == ["iban"]

    with pytest.raises(LagoApiError) as missing:
        client.subscriptions.create(
            Subscription(external_customer_id="cus", plan_code="basic", external_id="sub2", billing_entity_code="nope")
        )
    assert missing.value.status_code == 404
