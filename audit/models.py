"""The audit log: one row per create, update or delete of an audited model."""

from __future__ import annotations

import uuid

from django.db import models

from billing_project.core.models import BaseModel


class AuditAction(models.TextChoices):
    CREATE = "create", "create"
    UPDATE = "update", "update"
    DELETE = "delete", "delete"


class ActorType(models.TextChoices):
    USER = "user", "staff user"
    API_KEY = "api_key", "API key"
    SYSTEM = "system", "system"


class AuditLogEntry(BaseModel):
    """Who changed what, when and from where. Written in the same transaction as the change."""

    organization = models.ForeignKey(
        "customers.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_label = models.CharField(max_length=255, blank=True, default="")
    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64, db_index=True)
    object_repr = models.CharField(max_length=255, blank=True, default="")
    action = models.CharField(max_length=8, choices=AuditAction.choices)
    # {field: [before, after]}; money and decimals as strings, datetimes in ISO 8601.
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True, default="")
    # Lago's activity type ("invoice.voided", `audit.activity.activity_type`), and the customer and
    # subscription the changed row belongs to (ids read from the row, no query), for the activity
    # log's filters (docs/audit.md, "Activity logs").
    activity_type = models.CharField(max_length=64, blank=True, default="")
    related_customer_id = models.UUIDField(null=True, blank=True)
    related_subscription_id = models.UUIDField(null=True, blank=True)

    class Meta:
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["content_type", "object_id", "-created_at"]),
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["organization", "related_customer_id"], name="audit_entry_org_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.content_type.model} {self.object_id} by {self.actor_label}"


class ApiLogEntry(models.Model):
    """One API request of an organization (Lago's API log): written in batches after the response
    (`audit.api_logs`), kept `API_LOGS_RETENTION_DAYS`. Bodies are masked and capped."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)  # Lago's request_id
    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    api_key_id = models.UUIDField(null=True, blank=True)
    api_key_prefix = models.CharField(max_length=16, blank=True, default="")
    api_version = models.CharField(max_length=8)
    client = models.CharField(max_length=255, blank=True, default="")  # the User-Agent
    http_method = models.CharField(max_length=8)  # lower case, as Lago
    http_status = models.PositiveSmallIntegerField()
    request_origin = models.CharField(max_length=255, blank=True, default="")
    request_path = models.CharField(max_length=1024)
    # JSON texts, masked (`audit.api_logs.stored_body`): stored as they came when no secret occurs
    # in them, so the events path's bodies are never parsed to be logged.
    request_body = models.TextField(default="{}", blank=True)
    request_response = models.TextField(null=True, blank=True)
    duration_us = models.PositiveBigIntegerField(default=0)  # microseconds
    correlation_id = models.CharField(max_length=128, blank=True, default="")  # X-Request-Id
    logged_at = models.DateTimeField()  # when the request arrived
    created_at = models.DateTimeField()  # when the entry was written

    class Meta:
        verbose_name = "API log entry"
        verbose_name_plural = "API log"
        ordering = ["-logged_at"]
        indexes = [
            models.Index(fields=["organization", "-logged_at"], name="audit_apilog_org_logged"),
            models.Index(fields=["logged_at"], name="audit_apilog_logged"),
        ]

    def __str__(self) -> str:
        return f"{self.http_method.upper()} {self.request_path} {self.http_status}"
