"""Who is asking, and what both sides speak (overview: negotiation, identity and key discovery).

    platform_for(request, settings, operation) -> Platform

Every UCP request names its platform's profile in `UCP-Agent` (RFC 8941 dictionary,
`profile="https://..."`, optional `version="YYYY-MM-DD"`). The profile is the organization's stored
copy for a registered platform, or fetched (HTTPS only, no redirects, bounded time and size, public
addresses only, cached). From it come the platform's protocol version (422 version_unsupported when
bxb does not speak it), its capabilities (intersected with bxb's) and its signing keys (RFC 9421
signatures are verified when present, and required when the organization says so). An API key
(`X-API-Key`), when sent, must belong to the same registered platform. docs/ucp.md, "Security".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings as django_settings
from django.core.cache import cache
from django.http import HttpRequest

from billing_project.core import ratelimit
from ucp import protocol, signing
from ucp.models import PlatformPolicy, UcpPlatform, UcpSettings
from ucp.protocol import BusinessError, UcpError
from ucp.services.setup import api_key_hash
from webhooks import targets

PROFILE_CACHE_SECONDS = 300
PROFILE_MAX_BYTES = 256 * 1024
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MEMBER = re.compile(r'\s*([a-z*][a-z0-9_\-.*]*)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,;\s]+))?((?:\s*;[^,]*)?)\s*(?:,|$)')


@dataclass(frozen=True)
class Platform:
    profile_url: str
    version: str
    capabilities: dict[str, list[dict[str, Any]]]  # negotiated: name → [{"version"}]
    signed_by: str = ""  # key id of a verified request signature
    registered: UcpPlatform | None = None
    profile: dict[str, Any] = field(default_factory=dict)

    def response_capabilities(self, operation: str) -> dict[str, list[dict[str, str]]]:
        """The negotiated capabilities relevant to this operation's root capability."""
        root = protocol.OPERATION_ROOT[operation]
        out: dict[str, list[dict[str, str]]] = {}
        for cap in protocol.CAPABILITIES:
            if cap.name in self.capabilities and (cap.name == root or cap.extends == root):
                out[cap.name] = [{"version": protocol.VERSION}]
        return out


def parse_ucp_agent(value: str | None) -> tuple[str, str]:
    """(profile URL, version or "") from a UCP-Agent header; UcpError 400 invalid_profile_url."""
    if not value or not value.strip():
        raise UcpError(400, "invalid_profile_url", "The UCP-Agent header with the platform's profile URL is required")
    members: dict[str, str] = {}
    position = 0
    text = value.strip()
    while position < len(text):
        match = _MEMBER.match(text, position)
        if match is None or match.end() == position:
            raise UcpError(400, "invalid_profile_url", "UCP-Agent is not an RFC 8941 dictionary")
        raw = match.group(2) or ""
        members[match.group(1)] = raw
        # `profile="..."; version="..."`: parameters of a member count as members when not given
        for param in re.finditer(
            r';\s*([a-z*][a-z0-9_\-.*]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]+)', match.group(3) or ""
        ):
            members.setdefault(param.group(1), param.group(2))
        position = match.end()
    raw_profile = members.get("profile", "")
    if not (raw_profile.startswith('"') and raw_profile.endswith('"') and len(raw_profile) >= 2):
        raise UcpError(400, "invalid_profile_url", "UCP-Agent must carry profile as a quoted string")
    profile_url = raw_profile[1:-1]
    parts = urlsplit(profile_url)
    if parts.scheme != "https" or not parts.netloc or len(profile_url) > 500:
        raise UcpError(400, "invalid_profile_url", "The platform profile URL must be an HTTPS URL")
    version = members.get("version", "").strip('"')
    if version and not _VERSION.match(version):
        raise UcpError(400, "invalid_profile_url", "UCP-Agent version must be a YYYY-MM-DD date")
    return profile_url, version


def _fetch_profile(url: str) -> dict[str, Any]:
    cache_key = f"ucp:profile:{url}"
    cached = cache.get(cache_key)
    if cached is not None:
        return cached
    allow_private = bool(getattr(django_settings, "UCP_ALLOW_PRIVATE_PROFILE_URLS", False))
    timeout = float(getattr(django_settings, "UCP_PROFILE_TIMEOUT_SECONDS", 3))
    try:
        parts = httpx.URL(url)
        host = parts.raw_host.decode("ascii")
        targets.checked_addresses(host, parts.port or 443, allow_private=allow_private)
        with (
            httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False) as client,
            client.stream("GET", url, headers={"Accept": "application/json", "User-Agent": "bxb-ucp/1.0"}) as response,
        ):
            if response.status_code != 200:
                raise UcpError(424, "profile_unreachable", f"The platform profile answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_raw():
                body.extend(chunk)
                if len(body) > PROFILE_MAX_BYTES:
                    raise UcpError(422, "profile_malformed", "The platform profile is too large")
    except UcpError:
        raise
    except (targets.PrivateTargetError, httpx.HTTPError, OSError, ValueError, UnicodeError) as exc:
        raise UcpError(
            424, "profile_unreachable", f"Unable to fetch the platform profile: {type(exc).__name__}"
        ) from exc
    try:
        profile = json.loads(bytes(body))
    except ValueError:
        raise UcpError(422, "profile_malformed", "The platform profile is not JSON") from None
    _check_profile(profile)
    cache.set(cache_key, profile, PROFILE_CACHE_SECONDS)
    return profile


def _check_profile(profile: Any) -> None:
    ucp = profile.get("ucp") if isinstance(profile, dict) else None
    if not isinstance(ucp, dict) or not isinstance(ucp.get("version"), str) or not _VERSION.match(ucp["version"]):
        raise UcpError(422, "profile_malformed", "The platform profile has no valid ucp.version")
    caps = ucp.get("capabilities", {})
    keys = profile.get("signing_keys", [])
    if not isinstance(caps, dict) or not isinstance(keys, list):
        raise UcpError(422, "profile_malformed", "The platform profile's capabilities or signing_keys are malformed")


def _intersection(platform_caps: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Capabilities both sides declare at a common version, orphaned extensions pruned."""
    result: dict[str, list[dict[str, Any]]] = {}
    for cap in protocol.CAPABILITIES:
        entries = platform_caps.get(cap.name)
        if not isinstance(entries, list):
            continue
        versions = {e.get("version") for e in entries if isinstance(e, dict)}
        if protocol.VERSION in versions:
            result[cap.name] = [{"version": protocol.VERSION}]
    changed = True
    while changed:
        changed = False
        for cap in protocol.CAPABILITIES:
            if cap.name in result and cap.extends and cap.extends not in result:
                del result[cap.name]
                changed = True
    return result


def request_parts(request: HttpRequest) -> signing.RequestParts:
    headers = {key.lower(): value for key, value in request.headers.items()}
    return signing.RequestParts(
        method=request.method or "GET",
        authority=request.get_host(),
        path=request.path,
        query=request.META.get("QUERY_STRING", ""),
        headers=headers,
        body=request.body,
    )


def platform_for(request: HttpRequest, settings: UcpSettings, operation: str) -> Platform:
    """Authenticate and negotiate; raises UcpError (refusals) or BusinessError (no common capability)."""
    profile_url, header_version = parse_ucp_agent(request.headers.get("UCP-Agent"))
    limit = ratelimit.hit(f"ucp:{settings.organization_id}:{profile_url}", settings.rate_limit_per_minute, 60)
    if not limit.allowed:
        raise UcpError(
            429,
            "rate_limited",
            "Too many requests",
            headers={"Retry-After": str(limit.reset_seconds), **limit.headers()},
        )
    registered = UcpPlatform.objects.filter(
        organization_id=settings.organization_id, profile_url=profile_url, enabled=True
    ).first()
    api_key = request.headers.get("X-API-Key")
    if api_key:
        if registered is None or not registered.api_key_hash or registered.api_key_hash != api_key_hash(api_key):
            raise UcpError(401, "unauthorized", "The API key is not valid for this platform profile")
    if registered is None and settings.platform_policy != PlatformPolicy.OPEN:
        raise UcpError(403, "profile_not_trusted", "This platform is not registered with the business")
    if registered is not None and registered.profile:
        profile = registered.profile
        _check_profile(profile)
    else:
        profile = _fetch_profile(profile_url)
    ucp = profile["ucp"]
    version = header_version or ucp["version"]
    if version != protocol.VERSION:
        raise UcpError(
            422,
            "version_unsupported",
            f"Protocol version {version} is not supported. This business supports version {protocol.VERSION}.",
        )
    signed_by = ""
    parts = request_parts(request)
    if parts.headers.get("signature-input") or parts.headers.get("signature") or settings.require_signatures:
        keys: list[Mapping[str, Any]] = [k for k in profile.get("signing_keys", []) if isinstance(k, dict)]
        try:
            signed_by = signing.verify_request(parts, keys)
        except signing.SignatureFailure as exc:
            raise UcpError(exc.status, exc.code, exc.content) from None
    negotiated = _intersection(ucp.get("capabilities") or {})
    root = protocol.OPERATION_ROOT[operation]
    if root not in negotiated:
        raise BusinessError(
            [
                protocol.message_error(
                    "capabilities_incompatible",
                    f"The platform and the business share no version of {root}",
                    severity="unrecoverable",
                )
            ],
            continue_url=settings.public_base_url,
        )
    return Platform(
        profile_url=profile_url,
        version=version,
        capabilities=negotiated,
        signed_by=signed_by,
        registered=registered,
        profile=profile,
    )
