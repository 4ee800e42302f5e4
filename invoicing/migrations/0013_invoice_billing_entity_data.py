"""Every invoice is its customer's billing entity's (the default entity for all invoices written
before entities); the default entity's sequence continues the organization's, so numbering
`per_billing_entity` (formerly `per_organization`) goes on without a gap or a repeat."""

from django.db import migrations
from django.db.models import F, OuterRef, Subquery


def forwards(apps, schema_editor):
    Invoice = apps.get_model("invoicing", "Invoice")
    Counter = apps.get_model("invoicing", "InvoiceNumberCounter")
    Customer = apps.get_model("customers", "Customer")
    BillingEntity = apps.get_model("customers", "BillingEntity")
    entity_of_customer = Customer.objects.filter(pk=OuterRef("customer_id")).values("billing_entity_id")[:1]
    Invoice.objects.filter(billing_entity__isnull=True).update(billing_entity_id=Subquery(entity_of_customer))
    Invoice.objects.filter(billing_entity_sequential_id__isnull=True, organization_sequential_id__isnull=False).update(
        billing_entity_sequential_id=F("organization_sequential_id")
    )
    for counter in Counter.objects.filter(customer__isnull=True, billing_entity__isnull=True):
        entity = BillingEntity.objects.filter(organization_id=counter.organization_id, is_default=True).first()
        if entity is not None and not Counter.objects.filter(billing_entity=entity).exists():
            Counter.objects.create(
                organization_id=counter.organization_id,
                billing_entity=entity,
                scope="billing_entity",
                last_value=counter.last_value,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0012_invoice_billing_entity"),
        ("customers", "0006_default_billing_entities"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
