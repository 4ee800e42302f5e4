"""A default billing entity for every organization, from the organization's own fields (its id is
the organization's, as Lago's migration does), and every customer assigned to it."""

from django.db import migrations
from django.utils.text import slugify


def forwards(apps, schema_editor):
    Organization = apps.get_model("customers", "Organization")
    BillingEntity = apps.get_model("customers", "BillingEntity")
    Customer = apps.get_model("customers", "Customer")
    for org in Organization.objects.all().iterator():
        entity = BillingEntity.objects.filter(organization_id=org.pk, is_default=True).first()
        if entity is None:
            entity = BillingEntity.objects.create(
                id=org.pk,
                organization_id=org.pk,
                is_default=True,
                code=(slugify(org.name).replace("-", "_") or "default")[:255],
                name=org.name,
                legal_name=org.legal_name,
                legal_number=org.legal_number,
                tax_identification_number=org.tax_identification_number,
                email=org.email,
                address_line1=org.address_line1,
                address_line2=org.address_line2,
                city=org.city,
                state=org.state,
                zipcode=org.zipcode,
                country=org.country,
                default_currency=org.default_currency,
                timezone=org.timezone,
                document_numbering="per_billing_entity"
                if org.document_numbering == "per_organization"
                else "per_customer",
                document_number_prefix=org.document_number_prefix,
                document_locale=org.document_locale,
                finalize_zero_amount_invoice=org.finalize_zero_amount_invoice,
                net_payment_term=org.net_payment_term,
                invoice_grace_period=org.invoice_grace_period,
                invoice_footer=org.invoice_footer,
                email_settings=org.email_settings,
            )
        Customer.objects.filter(organization_id=org.pk, billing_entity__isnull=True).update(billing_entity=entity)


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_billing_entities")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
