"""The invoicing step of `manage.py seed_demo`: bill what is due and one one-off invoice.

Idempotent: the billing run never bills a period twice, and the one-off invoice is created only
when the demo customer has none.
"""

from __future__ import annotations

from catalog.models import AddOn
from customers.models import Customer, Organization
from invoicing.billing.run import customer_bill
from invoicing.models import Invoice, InvoiceType
from invoicing.services import invoice_create_one_off


def seed_invoices(organization: Organization) -> str | None:
    created = 0
    for customer in Customer.objects.filter(
        organization=organization, external_id__startswith="demo-", deleted_at__isnull=True
    ):
        created += len(customer_bill(customer.id))
    add_on = AddOn.objects.filter(organization=organization, deleted_at__isnull=True).order_by("created_at").first()
    globex = Customer.objects.filter(
        organization=organization, external_id="demo-globex", deleted_at__isnull=True
    ).first()
    target = globex or Customer.objects.filter(organization=organization, deleted_at__isnull=True).first()
    if add_on is not None and target is not None:
        if not Invoice.objects.filter(customer=target, invoice_type=InvoiceType.ONE_OFF).exists():
            currency = target.currency or add_on.amount_currency
            if currency == add_on.amount_currency:
                invoice_create_one_off(
                    organization,
                    external_customer_id=target.external_id,
                    currency=currency,
                    fees=[{"add_on_code": add_on.code, "units": "2"}],
                )
                created += 1
    total = Invoice.objects.filter(organization=organization).count()
    return f"invoices: {total} demo invoices ({created} new)"
