"""Lago's official Python client drives invoices, fees and usage end to end against a live server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import Invoice, InvoiceFee, InvoiceFeesList, OneOffInvoice
from lago_python_client.models.invoice import InvoiceMetadata, InvoiceMetadataList

from catalog.models import PlanTax
from invoicing.billing.run import customer_bill
from tests.factories.catalog import AddOnFactory
from tests.factories.invoicing import (
    add_events,
    make_charge,
    make_customer,
    make_metric,
    make_plan,
    make_tax,
    subscribe,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_invoices_fees_and_usage_with_lago_client(lago):
    client = lago.client
    organization = lago.organization
    customer = make_customer(organization, external_id="lc-cus")
    plan = make_plan(organization, amount_cents=1000)
    PlanTax.objects.create(plan=plan, tax=make_tax(organization, "10"))
    metric = make_metric(organization, "lc_calls")
    make_charge(plan, metric, properties={"amount": "0.25"})
    now = datetime.now(UTC)
    sub = subscribe(customer, plan, datetime(2024, 1, 1, tzinfo=UTC), external_id="lc-sub")
    add_events(sub, "lc_calls", [datetime(2024, 1, 2, tzinfo=UTC)] * 8)
    [first, *_] = customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    add_events(sub, "lc_calls", [now] * 3)

    listed = client.invoices.find_all({"external_customer_id": "lc-cus", "per_page": 1})
    assert listed["meta"]["total_count"] >= 1
    found = client.invoices.find(str(first.id))
    assert found.fees_amount_cents == 1200
    assert found.taxes_amount_cents == 120
    assert found.total_amount_cents == 1320
    assert found.billing_periods.__root__[0].invoicing_reason == "subscription_periodic"
    fee_types = sorted(f.item.type for f in found.fees.__root__)
    assert fee_types == ["charge", "subscription"]
    past = client.customers.past_usage("lc-cus", "lc-sub")
    assert past["usage_periods"][0].lago_invoice_id == str(first.id)
    assert past["usage_periods"][0].charges_usage[0].amount_cents == 200

    updated = client.invoices.update(
        Invoice(
            payment_status="succeeded", metadata=InvoiceMetadataList(__root__=[InvoiceMetadata(key="po", value="9")])
        ),
        str(first.id),
    )
    assert updated.payment_status == "succeeded"
    downloaded = client.invoices.download(str(first.id))
    assert downloaded is not None and downloaded.file_url.endswith(".pdf")
    assert client.invoices.refresh(str(first.id)).status == "finalized"
    voided = client.invoices.void(str(first.id))
    assert voided.status == "voided" and voided.total_due_amount_cents == 0
    with pytest.raises(LagoApiError) as err:
        client.invoices.void(str(first.id))
    assert err.value.status_code == 405
    with pytest.raises(LagoApiError) as err:
        client.invoices.finalize(str(first.id))
    assert err.value.status_code == 404

    add_on = AddOnFactory(organization=organization, code="lc-setup", amount_cents=1500)
    one_off = client.invoices.create(
        OneOffInvoice(
            external_customer_id="lc-cus",
            currency="USD",
            fees=InvoiceFeesList(__root__=[InvoiceFee(add_on_code=add_on.code, units=2.5, unit_amount_cents=1000)]),
        )
    )
    assert one_off.invoice_type == "one_off"
    assert one_off.fees_amount_cents == 2500

    fees = client.fees.find_all({"external_customer_id": "lc-cus"})
    assert fees["meta"]["total_count"] == 3
    fee = client.fees.find(fees["fees"][0].lago_id)
    assert fee.amount_currency == "USD"

    usage = client.customers.current_usage("lc-cus", "lc-sub")
    assert usage.amount_cents == 75
    assert usage.taxes_amount_cents == 8  # 10 % of 75 = 7.5 → 8
    assert usage.charges_usage[0].units == "3.0"
    no_tax = client.customers.current_usage("lc-cus", "lc-sub", apply_taxes="false")
    assert no_tax.taxes_amount_cents == 0
    past = client.customers.past_usage("lc-cus", "lc-sub")
    assert past["usage_periods"] == []  # the only invoiced period was voided
