"""Universal Commerce Protocol (docs/ucp.md): an organization's UCP settings, the platforms it
knows, checkout sessions, idempotency records and the order events sent to platforms."""

from __future__ import annotations

from django.db import models

from billing_project.core.models import BaseModel


class PlatformPolicy(models.TextChoices):
    # Any platform whose profile can be fetched over HTTPS (permissionless onboarding).
    OPEN = "open", "Open: any platform with a reachable profile"
    # Only platforms registered for the organization (UcpPlatform rows).
    REGISTERED = "registered", "Registered platforms only"


class UcpSettings(BaseModel):
    """UCP for one organization: off until `enabled`; its profile is served at
    `<public_base_url>/.well-known/ucp` and its REST endpoint is `<public_base_url>`."""

    organization = models.OneToOneField("customers.Organization", on_delete=models.CASCADE, related_name="ucp_settings")
    enabled = models.BooleanField(default=False)
    slug = models.SlugField(
        max_length=64, unique=True, help_text="Path segment: bxb serves this organization at /ucp/<slug>/."
    )
    public_base_url = models.URLField(
        max_length=500,
        help_text="The HTTPS URL platforms reach /ucp/<slug> at (no trailing slash), e.g. https://billing.example.com/ucp/acme.",
    )
    namespace = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Reverse-domain name of the organization's own payment handlers (e.g. com.example.billing); "
        "empty: derived from the public base URL's host.",
    )
    payment_connection = models.ForeignKey(
        "payments.PaymentProviderConnection", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    platform_policy = models.CharField(max_length=20, choices=PlatformPolicy.choices, default=PlatformPolicy.REGISTERED)
    require_signatures = models.BooleanField(
        default=False, help_text="Refuse requests that are not signed (RFC 9421) with a key of the platform's profile."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=120, help_text="Requests per minute per platform; 0: no limit."
    )
    checkout_ttl_minutes = models.PositiveIntegerField(default=360)
    terms_url = models.URLField(max_length=500, blank=True, default="")
    privacy_url = models.URLField(max_length=500, blank=True, default="")
    signing_kid = models.CharField(max_length=64, blank=True, default="", editable=False)
    signing_key_encrypted = models.TextField(blank=True, default="", editable=False)

    class Meta:
        verbose_name = "UCP settings"
        verbose_name_plural = "UCP settings"

    def __str__(self) -> str:
        return f"UCP {self.slug}"


class UcpPlatform(BaseModel):
    """A platform (an agent's host) the organization knows: its profile URL, and optionally the
    profile document itself (used instead of fetching it) and an API key bound to it."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255, blank=True, default="")
    profile_url = models.URLField(max_length=500)
    profile = models.JSONField(null=True, blank=True, help_text="Stored profile document; empty: fetched from the URL.")
    api_key_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "profile_url"], name="ucp_platform_unique_url"),
        ]

    def __str__(self) -> str:
        return self.name or self.profile_url
