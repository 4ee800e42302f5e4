"""Turning UCP on for an organization, its signing key, and the platforms it knows."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing_project.core.errors import ValidationFailure
from customers.models import Organization
from payments import crypto
from ucp import signing
from ucp.models import PlatformPolicy, UcpPlatform, UcpSettings

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_RDN = re.compile(r"^[a-z][a-z0-9]*(?:\.[a-z][a-z0-9_]*)+$")


def _check_base_url(url: str) -> str:
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
        raise ValidationFailure.single("public_base_url", "value_is_invalid")
    return url


def default_namespace(public_base_url: str) -> str:
    """The reverse-domain name of the host (billing.example.com → com.example.billing), or
    `dev.bxb.local` when the host is no domain name (an IP address, localhost)."""
    host = (urlsplit(public_base_url).hostname or "").lower()
    labels = [re.sub(r"[^a-z0-9_]", "_", label) for label in reversed(host.split("."))]
    candidate = ".".join(labels)
    return candidate if _RDN.match(candidate) else "dev.bxb.local"


def ucp_settings_save(
    organization: Organization,
    *,
    slug: str,
    public_base_url: str,
    enabled: bool = True,
    platform_policy: str = PlatformPolicy.REGISTERED,
    require_signatures: bool = False,
    payment_connection: Any = None,
    rate_limit_per_minute: int | None = None,
    terms_url: str = "",
    privacy_url: str = "",
    namespace: str = "",
    require_buyer_email: bool = True,
    checkout_ttl_minutes: int | None = None,
) -> UcpSettings:
    """Create or update the organization's UCP settings; a signing key is made on first save.

    `checkout_ttl_minutes` (at least one minute) is how long a new checkout session stays open;
    left out, the row keeps what it has (360 minutes on a new row)."""
    if not _SLUG.match(slug or ""):
        raise ValidationFailure.single("slug", "value_is_invalid")
    base = _check_base_url(public_base_url)
    if platform_policy not in PlatformPolicy.values:
        raise ValidationFailure.single("platform_policy", "value_is_invalid")
    if namespace and not _RDN.match(namespace):
        raise ValidationFailure.single("namespace", "value_is_invalid")
    if payment_connection is not None and payment_connection.organization_id != organization.id:
        raise ValidationFailure.single("payment_connection", "value_is_invalid")
    if checkout_ttl_minutes is not None and checkout_ttl_minutes < 1:
        raise ValidationFailure.single("checkout_ttl_minutes", "value_is_invalid")
    try:
        with transaction.atomic():
            row = UcpSettings.objects.select_for_update().filter(organization=organization).first()
            if row is None:
                row = UcpSettings(organization=organization)
            row.slug = slug
            row.public_base_url = base
            row.enabled = enabled
            row.platform_policy = platform_policy
            row.require_signatures = require_signatures
            row.payment_connection = payment_connection
            row.terms_url = terms_url
            row.privacy_url = privacy_url
            row.namespace = namespace
            row.require_buyer_email = require_buyer_email
            if rate_limit_per_minute is not None:
                row.rate_limit_per_minute = rate_limit_per_minute
            if checkout_ttl_minutes is not None:
                row.checkout_ttl_minutes = checkout_ttl_minutes
            if not row.signing_key_encrypted:
                _new_key(row)
            row.save()
    except IntegrityError:
        raise ValidationFailure.single("slug", "value_already_exist") from None
    return row


def _new_key(row: UcpSettings) -> None:
    row.signing_kid = f"bxb-{secrets.token_hex(6)}"
    row.signing_key_encrypted = crypto.encrypt(signing.generate_private_key_pem())


KEY_GRACE = dt.timedelta(days=7)


def ucp_signing_key_rotate(row: UcpSettings, *, now: dt.datetime | None = None) -> UcpSettings:
    """A new signing key signs from now on; the previous public key stays in the profile for
    `KEY_GRACE` (7 days, the specification's minimum) so what it signed keeps verifying."""
    now = now or timezone.now()
    with transaction.atomic():
        row = UcpSettings.objects.select_for_update().get(id=row.id)
        if row.signing_key_encrypted:
            key, kid = signing_key(row)
            retired = {**signing.public_jwk(key, kid), "retired_at": now.isoformat()}
            row.retired_signing_keys = [*published_retired_keys(row, now=now), retired]
        _new_key(row)
        row.save(update_fields=["signing_kid", "signing_key_encrypted", "retired_signing_keys", "updated_at"])
    return row


def published_retired_keys(row: UcpSettings, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Retired public keys still inside their grace period."""
    now = now or timezone.now()
    out = []
    for jwk in row.retired_signing_keys or []:
        try:
            retired_at = dt.datetime.fromisoformat(str(jwk.get("retired_at")))
        except ValueError:
            continue
        if now - retired_at < KEY_GRACE:
            out.append(jwk)
    return out


def signing_key(row: UcpSettings) -> tuple[ec.EllipticCurvePrivateKey, str]:
    return signing.load_private_key(crypto.decrypt(row.signing_key_encrypted)), row.signing_kid


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def platform_register(
    organization: Organization,
    *,
    profile_url: str,
    name: str = "",
    profile: dict[str, Any] | None = None,
    with_api_key: bool = False,
) -> tuple[UcpPlatform, str]:
    """Register (or update) a platform; returns it and, when asked, a new API key shown once
    (sent as `X-API-Key`, bound to this profile URL)."""
    parts = urlsplit(profile_url or "")
    if parts.scheme != "https" or not parts.netloc:
        raise ValidationFailure.single("profile_url", "value_is_invalid")
    if profile is not None and not isinstance(profile, dict):
        raise ValidationFailure.single("profile", "value_is_invalid")
    raw_key = ""
    with transaction.atomic():
        platform, _ = UcpPlatform.objects.select_for_update().get_or_create(
            organization=organization, profile_url=profile_url, defaults={"name": name}
        )
        platform.name = name or platform.name
        platform.profile = profile
        platform.enabled = True
        if with_api_key:
            raw_key = "ucp_" + secrets.token_urlsafe(32)
            platform.api_key_hash = api_key_hash(raw_key)
        platform.save()
    return platform, raw_key
