"""Universal Commerce Protocol (docs/ucp.md): an organization's UCP settings, the platforms it
knows, checkout sessions, idempotency records and the order events sent to platforms."""

from __future__ import annotations

from django.db import models

from billing_project.core.models import BaseModel, exactly_one


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
    require_buyer_email = models.BooleanField(
        default=True,
        help_text="A checkout is ready only with the buyer's e-mail (the customer is found or created by it). "
        "Off: a buyer without e-mail becomes a customer known by its checkout.",
    )
    terms_url = models.URLField(max_length=500, blank=True, default="")
    privacy_url = models.URLField(max_length=500, blank=True, default="")
    signing_kid = models.CharField(max_length=64, blank=True, default="", editable=False)
    signing_key_encrypted = models.TextField(blank=True, default="", editable=False)
    # Public JWKs of keys rotated out, each with `retired_at`: still published for 7 days so that
    # what they signed (webhooks in flight, cached answers) keeps verifying.
    retired_signing_keys = models.JSONField(default=list, blank=True, editable=False)

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


class UcpListing(BaseModel):
    """A plan or an add-on the organization sells through UCP (its catalog): a product with one
    variant. Exactly one of `plan` and `add_on` is set."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey("catalog.Plan", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    add_on = models.ForeignKey("catalog.AddOn", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=255, blank=True, default="", help_text="Empty: the plan's or add-on's name.")
    description = models.TextField(blank=True, default="", help_text="Empty: the plan's or add-on's description.")
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            exactly_one("plan", "add_on", name="ucp_listing_plan_xor_add_on"),
            models.UniqueConstraint(fields=["organization", "plan"], name="ucp_listing_unique_plan"),
            models.UniqueConstraint(fields=["organization", "add_on"], name="ucp_listing_unique_add_on"),
        ]

    def __str__(self) -> str:
        return self.title or str(self.plan or self.add_on)


class CheckoutStatus(models.TextChoices):
    INCOMPLETE = "incomplete"
    REQUIRES_ESCALATION = "requires_escalation"
    READY_FOR_COMPLETE = "ready_for_complete"
    COMPLETE_IN_PROGRESS = "complete_in_progress"
    COMPLETED = "completed"
    CANCELED = "canceled"


class Checkout(BaseModel):
    """A UCP checkout session. Its request state (line items, buyer, context) is what the platform
    sent; its priced state (totals, messages) is recomputed from bxb's billing on every change."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=40, unique=True)
    platform_profile_url = models.URLField(max_length=500)
    status = models.CharField(max_length=24, choices=CheckoutStatus.choices, default=CheckoutStatus.INCOMPLETE)
    currency = models.CharField(max_length=3)
    line_items = models.JSONField(default=list)  # [{"id", "item_id", "quantity"}]
    buyer = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    totals = models.JSONField(default=list, blank=True)
    line_totals = models.JSONField(default=dict, blank=True)  # line id → [total entries]
    messages = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    # Payment attempts: each definitive refusal (declined, abandoned 3DS) moves to the next
    # attempt, so its provider idempotency key is new; an unknown outcome retries the same one.
    payment_attempt = models.PositiveIntegerField(default=0)
    pending_provider_payment_id = models.CharField(max_length=255, blank=True, default="")
    continue_url = models.URLField(max_length=2000, blank=True, default="")
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subscription = models.ForeignKey(
        "subscriptions.Subscription", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    invoice = models.ForeignKey("invoicing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    order_public_id = models.CharField(max_length=40, blank=True, default="", db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "status"], name="ucp_checkout_org_status")]

    def __str__(self) -> str:
        return self.public_id


class IdempotencyRecord(BaseModel):
    """The answer given to a state-changing request carrying an `Idempotency-Key`, kept at least
    48 hours: the same key with the same request gets it again, with another request a 409."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    platform_profile_url = models.URLField(max_length=500)
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=255)  # method and path
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null: in progress
    response_body = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "platform_profile_url", "key"], name="ucp_idempotency_unique_key"
            ),
        ]


class OrderEvent(BaseModel):
    """An order-event webhook to the platform that placed the order: the full order as it was when
    the event happened, signed (RFC 9421) when sent, retried until delivered or too old."""

    organization = models.ForeignKey("customers.Organization", on_delete=models.CASCADE, related_name="+")
    checkout = models.ForeignKey(Checkout, on_delete=models.CASCADE, related_name="order_events")
    event_type = models.CharField(max_length=40)  # order.created | order.updated
    webhook_url = models.URLField(max_length=2000)
    payload = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["delivered_at", "failed_at", "next_attempt_at"], name="ucp_order_event_due")]
