"""Output shapes of the analytics and exports API (for the OpenAPI schema and rendering)."""

from __future__ import annotations

from rest_framework import serializers

from billing_project.core.api.serializers import envelope, list_envelope, rows_envelope
from reporting.models import ExportResource


class GrossRevenueRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField(allow_null=True)
    amount_cents = serializers.IntegerField(allow_null=True)
    invoices_count = serializers.IntegerField()


GrossRevenueEnvelope = rows_envelope("GrossRevenueEnvelope", "gross_revenues", GrossRevenueRow)


class InvoiceCollectionRow(serializers.Serializer):
    month = serializers.CharField()
    payment_status = serializers.CharField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    invoices_count = serializers.IntegerField()
    amount_cents = serializers.IntegerField()


InvoiceCollectionEnvelope = rows_envelope("InvoiceCollectionEnvelope", "invoice_collections", InvoiceCollectionRow)


class UsageRow(serializers.Serializer):
    organization_id = serializers.UUIDField()
    start_of_period_dt = serializers.DateField()
    end_of_period_dt = serializers.DateField()
    amount_currency = serializers.CharField()
    amount_cents = serializers.IntegerField()
    billable_metric_code = serializers.CharField()
    units = serializers.CharField(help_text="Decimal string.")
    is_billable_metric_deleted = serializers.BooleanField()


UsageEnvelope = rows_envelope("UsageEnvelope", "usages", UsageRow)


class InvoicedUsageRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField()
    code = serializers.CharField(allow_null=True)
    amount_cents = serializers.IntegerField()


InvoicedUsageEnvelope = rows_envelope("InvoicedUsageEnvelope", "invoiced_usages", InvoicedUsageRow)


class MrrRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField(allow_null=True)
    amount_cents = serializers.IntegerField(allow_null=True)


MrrEnvelope = rows_envelope("MrrEnvelope", "mrrs", MrrRow)


class OverdueBalanceRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField()
    amount_cents = serializers.IntegerField()
    lago_invoice_ids = serializers.ListField(child=serializers.CharField())


OverdueBalanceEnvelope = rows_envelope("OverdueBalanceEnvelope", "overdue_balances", OverdueBalanceRow)


class ChurnRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField()
    customers_at_start = serializers.IntegerField()
    churned_customers = serializers.IntegerField()
    new_customers = serializers.IntegerField()
    churn_rate = serializers.CharField(allow_null=True, help_text="Decimal string, 4 places.")


ChurnEnvelope = rows_envelope("ChurnEnvelope", "churns", ChurnRow)


class RetentionRow(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField()
    starting_mrr_cents = serializers.IntegerField()
    retained_mrr_cents = serializers.IntegerField()
    net_revenue_retention = serializers.CharField(allow_null=True, help_text="Decimal string, 4 places.")


RetentionEnvelope = rows_envelope("RetentionEnvelope", "net_revenue_retentions", RetentionRow)


class LifetimeValueRow(serializers.Serializer):
    currency = serializers.CharField()
    months = serializers.IntegerField(help_text="Months of churn history averaged.")
    mrr_cents = serializers.IntegerField()
    paying_customers = serializers.IntegerField()
    average_revenue_per_customer_cents = serializers.IntegerField()
    average_churn_rate = serializers.CharField(allow_null=True, help_text="Decimal string, 4 places.")
    lifetime_value_cents = serializers.IntegerField(allow_null=True, help_text="Null while nobody churned.")


LifetimeValueEnvelope = rows_envelope("LifetimeValueEnvelope", "customer_lifetime_values", LifetimeValueRow)


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
