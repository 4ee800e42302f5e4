"""Outbound webhooks: endpoints per organization, the delivery outbox and its attempts ledger.

A `WebhookDelivery` row is written inside the transaction of the change it reports (an outbox),
so a rolled-back change sends nothing and a committed one cannot be lost. Every HTTP attempt is
kept as a `WebhookAttempt` (status code, duration, a response excerpt).
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models
from django.db.models import Q

from billing_project.core.models import BaseModel


class SignatureAlgo(models.TextChoices):
    JWT = "jwt"
    HMAC = "hmac"


class WebhookEndpoint(BaseModel):
    organization = models.ForeignKey(
        "customers.Organization", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    webhook_url = models.CharField(max_length=1024)
    signature_algo = models.CharField(max_length=8, choices=SignatureAlgo.choices, default=SignatureAlgo.JWT)
    name = models.CharField(max_length=255, null=True, blank=True)
    # None means every webhook type; otherwise the list of types this endpoint receives.
    event_types = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "webhook_url"], name="webhook_endpoint_url_unique"),
        ]

    def __str__(self) -> str:
        return self.name or self.webhook_url

    def accepts(self, webhook_type: str) -> bool:
        return not self.event_types or webhook_type in self.event_types


class WebhookSigningKey(BaseModel):
    """The organization's RSA key pair for JWT (RS256) signatures, generated on first need."""

    organization = models.OneToOneField(
        "customers.Organization", on_delete=models.CASCADE, related_name="webhook_signing_key"
    )
    private_key_pem = models.TextField(editable=False)
    public_key_pem = models.TextField(editable=False)

    def __str__(self) -> str:
        return f"Webhook signing key of {self.organization_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookDelivery(BaseModel):
    """One webhook for one endpoint. Its id is the `X-Lago-Unique-Key`, stable across retries."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    webhook_url = models.CharField(max_length=1024, help_text="The endpoint's URL at the last attempt.")
    webhook_type = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    # The exact JSON bytes delivered (and signed), identical on every retry.
    body = models.TextField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # A worker that claims the delivery holds it until `leased_until`; a second run sees the
    # lease and sends nothing. A worker that died releases it when the lease expires.
    leased_until = models.DateTimeField(null=True, blank=True, editable=False)
    lease_token = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due_idx"),
            models.Index(fields=["organization", "status", "created_at"], name="webhook_delivery_org_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_type} → {self.webhook_url}"

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def retries(self) -> int:
        return max(self.attempts_count - 1, 0)


class WebhookAttempt(BaseModel):
    """One HTTP POST of a delivery (append-only)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    response_excerpt = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number_unique")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
