"""Output shapes of the analytics and exports API (for the OpenAPI schema and rendering)."""

from __future__ import annotations

from rest_framework import serializers

from billing_project.core.api.serializers import envelope, list_envelope
from reporting.models import ExportResource


class GrossRevenueRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField(allow_null=True)
    amount_cents = serializers.IntegerField(allow_null=True)
    invoices_count = serializers.IntegerField()


class GrossRevenueEnvelope(serializers.Serializer):
    gross_revenues = GrossRevenueRow(many=True)


class InvoiceCollectionRow(serializers.Serializer):
    month = serializers.CharField()
    payment_status = serializers.CharField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    invoices_count = serializers.IntegerField()
    amount_cents = serializers.IntegerField()


class InvoiceCollectionEnvelope(serializers.Serializer):
    invoice_collections = InvoiceCollectionRow(many=True)


class UsageRow(serializers.Serializer):
    organization_id = serializers.UUIDField()
    start_of_period_dt = serializers.DateField()
    end_of_period_dt = serializers.DateField()
    amount_currency = serializers.CharField()
    amount_cents = serializers.IntegerField()
    billable_metric_code = serializers.CharField()
    units = serializers.CharField(help_text="Decimal string.")
    is_billable_metric_deleted = serializers.BooleanField()


class UsageEnvelope(serializers.Serializer):
    usages = UsageRow(many=True)


class InvoicedUsageRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField()
    code = serializers.CharField(allow_null=True)
    amount_cents = serializers.IntegerField()


class InvoicedUsageEnvelope(serializers.Serializer):
    invoiced_usages = InvoicedUsageRow(many=True)


class MrrRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField(allow_null=True)
    amount_cents = serializers.IntegerField(allow_null=True)


class MrrEnvelope(serializers.Serializer):
    mrrs = MrrRow(many=True)


class OverdueBalanceRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField()
    amount_cents = serializers.IntegerField()
    lago_invoice_ids = serializers.ListField(child=serializers.CharField())


class OverdueBalanceEnvelope(serializers.Serializer):
    overdue_balances = OverdueBalanceRow(many=True)


class ChurnRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField()
    customers_at_start = serializers.IntegerField()
    churned_customers = serializers.IntegerField()
    new_customers = serializers.IntegerField()
    churn_rate = serializers.CharField(allow_null=True, help_text="Decimal string, 4 places.")


class ChurnEnvelope(serializers.Serializer):
    churns = ChurnRow(many=True)


class RetentionRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField()
    starting_mrr_cents = serializers.IntegerField()
    retained_mrr_cents = serializers.IntegerField()
    net_revenue_retention = serializers.CharField(allow_null=True, help_text="Decimal string, 4 places.")


class RetentionEnvelope(serializers.Serializer):
    net_revenue_retentions = RetentionRow(many=True)


class LifetimeValueRow(serializers.Serializer):
    currency = serializers.CharField()
    months = serializers.IntegerField(help_text="Months of churn history averaged.")
    mrr_cents = serializers.IntegerField()
    paying_customers = serializers.IntegerField()
    average_revenue_per_customer_cents = serializers.IntegerField()
    average_churn_rate = serializers.CharField(allow_null=True, help_text="Decimal string, 4 places.")
    lifetime_value_cents = serializers.IntegerField(allow_null=True, help_text="Null while nobody churned.")


class LifetimeValueEnvelope(serializers.Serializer):
    customer_lifetime_values = LifetimeValueRow(many=True)


class ExportInput(serializers.Serializer):
    resource_type = serializers.ChoiceField(choices=ExportResource.choices)
    from_date = serializers.DateField()
    to_date = serializers.DateField()


ExportInputEnvelope = envelope("ExportInputEnvelope", "export", ExportInput)


class ExportOutput(serializers.Serializer):
    lago_id = serializers.CharField()
    resource_type = serializers.CharField()
    from_date = serializers.DateField()
    to_date = serializers.DateField()
    status = serializers.CharField()
    row_count = serializers.IntegerField()
    error = serializers.CharField()
    file_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)

    def get_file_url(self, obj) -> str | None:
        if obj.status != "completed":
            return None
        request = self.context.get("request")
        path = f"/api/v1/exports/{obj.id}/download"
        return request.build_absolute_uri(path) if request is not None else path


ExportEnvelope = envelope("ExportEnvelope", "export", ExportOutput)
ExportListEnvelope = list_envelope("ExportListEnvelope", "exports", ExportOutput)
