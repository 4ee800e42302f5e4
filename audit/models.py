"""The audit log: one row per create, update or delete of an audited model."""

from __future__ import annotations

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

    class Meta:
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["content_type", "object_id", "-created_at"]),
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.content_type.model} {self.object_id} by {self.actor_label}"
