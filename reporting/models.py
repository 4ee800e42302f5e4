"""Data exports: one CSV of invoices, fees, credit notes or events for a date range, per request.

The file is written by a Celery task (`reporting.tasks.export_run`) streaming rows from the
database to disk; the row keeps its status, row count and the file (under MEDIA_ROOT/exports/).
"""

from __future__ import annotations

from django.db import models

from billing_project.core.models import BaseModel


class ExportResource(models.TextChoices):
    INVOICES = "invoices"
    FEES = "fees"
    CREDIT_NOTES = "credit_notes"
    EVENTS = "events"


class ExportStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class Export(BaseModel):
    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    resource_type = models.CharField(max_length=16, choices=ExportResource.choices)
    # Inclusive calendar dates in UTC: invoices and credit notes by issuing date, fees by creation,
    # events by their timestamp.
    from_date = models.DateField()
    to_date = models.DateField()
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.PENDING)
    row_count = models.BigIntegerField(default=0)
    file = models.FileField(upload_to="exports/%Y/%m/", blank=True, default="")
    error = models.TextField(blank=True, default="")
    requested_by = models.CharField(
        max_length=255, blank=True, default="", help_text="api_key:<prefix> or user:<name>."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(from_date__lte=models.F("to_date")), name="export_range_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type} {self.from_date}..{self.to_date} ({self.status})"


class AnalyticsDashboard(Export):
    """No table of its own: the admin's entry for the analytics dashboard page (reporting.admin)."""

    class Meta:
        proxy = True
        verbose_name = "analytics dashboard"
        verbose_name_plural = "analytics dashboard"
