"""Who may call: the platform's profile (registered or fetched), its protocol version and
capabilities, API keys bound to a profile, RFC 9421 signatures, rate limits, tenant isolation.
A refused request stores nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from billing_project.core import ratelimit
from tests.ucp.conftest import PLATFORM_URL, Agent, platform_profile
from ucp import signing
from ucp.models import Checkout, IdempotencyRecord, PlatformPolicy, UcpSettings
from ucp.services import setup

pytestmark = pytest.mark.django_db

BODY = {"line_items": [{"item": {"id": "plan:pro:v"}, "quantity": 1}], "buyer": {"email": "b@example.com"}}


@pytest.fixture(autouse=True)
def _fresh_limits():
    ratelimit.reset_local()
    yield
    ratelimit.reset_local()


def _post(headers: dict, body=BODY, slug: str = "acme"):
    return Client().post(
        f"/ucp/{slug}/checkout-sessions", data=json.dumps(body), content_type="application/json", **headers
    )


def _nothing_stored():
    assert not Checkout.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize(
    "agent_header",
    [
        None,
        "",
        "garbage(",
        "profile=https://agent.example.test/p",
        'profile="http://agent.example.test/p"',
        'version="2026-04-08"',
    ],
)
def test_a_missing_or_invalid_profile_url_is_400(catalog_items, agent_header):
    headers = {"HTTP_IDEMPOTENCY_KEY": "k"}
    if agent_header is not None:
        headers["HTTP_UCP_AGENT"] = agent_header
    response = _post(headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_profile_url"
    _nothing_stored()


def test_an_unregistered_platform_is_not_trusted_under_the_registered_policy(catalog_items):
    response = _post({"HTTP_UCP_AGENT": 'profile="https://other.example.test/p"'})
    assert response.status_code == 403 and response.json()["code"] == "profile_not_trusted"
    _nothing_stored()


def test_open_policy_fetches_the_profile_and_maps_fetch_failures(catalog_items, ucp_org, settings):
    UcpSettings.objects.filter(id=ucp_org.id).update(platform_policy=PlatformPolicy.OPEN)
    # a private address is never fetched (SSRF), an unreachable one neither: 424
    for url in ("https://127.0.0.1:9/p", "https://10.0.0.1/p"):
        response = _post({"HTTP_UCP_AGENT": f'profile="{url}"'})
        assert response.status_code == 424 and response.json()["code"] == "profile_unreachable"
    settings.UCP_ALLOW_PRIVATE_PROFILE_URLS = True
    settings.UCP_PROFILE_TIMEOUT_SECONDS = 0.5
    response = _post({"HTTP_UCP_AGENT": 'profile="https://127.0.0.1:9/p"'})
    assert response.status_code == 424
    _nothing_stored()


def test_an_unsupported_protocol_version_is_422(catalog_items, ucp_org):
    setup.platform_register(
        ucp_org.organization, profile_url="https://old.example.test/p", profile=platform_profile("2026-01-23")
    )
    response = _post({"HTTP_UCP_AGENT": 'profile="https://old.example.test/p"'})
    assert response.status_code == 422 and response.json()["code"] == "version_unsupported"
    header = _post({"HTTP_UCP_AGENT": f'profile="{PLATFORM_URL}"; version="2026-01-11"'})
    assert header.status_code == 422
    ok = _post({"HTTP_UCP_AGENT": f'profile="{PLATFORM_URL}"; version="2026-04-08"'})
    assert ok.status_code == 201


def test_a_stored_profile_that_is_malformed_is_422(catalog_items, ucp_org):
    setup.platform_register(ucp_org.organization, profile_url="https://bad.example.test/p", profile={"ucp": {}})
    response = _post({"HTTP_UCP_AGENT": 'profile="https://bad.example.test/p"'})
    assert response.status_code == 422 and response.json()["code"] == "profile_malformed"


def test_no_common_capability_is_a_business_error(catalog_items, ucp_org):
    setup.platform_register(
        ucp_org.organization,
        profile_url="https://cart-only.example.test/p",
        profile=platform_profile(capabilities={"dev.ucp.shopping.cart": [{"version": "2026-04-08"}]}),
    )
    response = _post({"HTTP_UCP_AGENT": 'profile="https://cart-only.example.test/p"'})
    assert response.status_code == 200
    body = response.json()
    assert body["ucp"]["status"] == "error"
    assert body["messages"][0]["code"] == "capabilities_incompatible"
    _nothing_stored()


def test_api_keys_are_bound_to_their_platform(catalog_items, ucp_org):
    _, raw = setup.platform_register(
        ucp_org.organization, profile_url=PLATFORM_URL, profile=platform_profile(), with_api_key=True
    )
    setup.platform_register(ucp_org.organization, profile_url="https://b.example.test/p", profile=platform_profile())
    good = {"HTTP_UCP_AGENT": f'profile="{PLATFORM_URL}"', "HTTP_X_API_KEY": raw}
    assert _post(good).status_code == 201
    assert _post({**good, "HTTP_X_API_KEY": "ucp_wrong"}).status_code == 401
    other = {"HTTP_UCP_AGENT": 'profile="https://b.example.test/p"', "HTTP_X_API_KEY": raw}
    assert _post(other).status_code == 401


def test_rate_limit_per_platform_answers_429_with_retry_after(catalog_items, ucp_org):
    UcpSettings.objects.filter(id=ucp_org.id).update(rate_limit_per_minute=2)
    agent = Agent("acme")
    assert agent.post("/catalog/search", {"query": "*"}).status_code == 200
    assert agent.post("/catalog/search", {"query": "*"}).status_code == 200
    refused = agent.post("/catalog/search", {"query": "*"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1


class SignedPlatform:
    def __init__(self, organization, url: str = "https://signed.example.test/p"):
        from cryptography.hazmat.primitives.asymmetric import ec

        self.url = url
        self.key = ec.generate_private_key(ec.SECP256R1())
        jwk = signing.public_jwk(self.key, "platform-1")
        setup.platform_register(organization, profile_url=url, profile=platform_profile(keys=[jwk]))

    def headers(self, body: bytes, *, kid: str = "platform-1", path: str = "/ucp/acme/checkout-sessions") -> dict:
        sent = {"ucp-agent": f'profile="{self.url}"', "idempotency-key": "idem-1", "content-type": "application/json"}
        signed = signing.sign_request("POST", f"http://testserver{path}", sent, body, key=self.key, kid=kid)
        return {
            "HTTP_UCP_AGENT": sent["ucp-agent"],
            "HTTP_IDEMPOTENCY_KEY": "idem-1",
            "HTTP_CONTENT_DIGEST": signed["Content-Digest"],
            "HTTP_SIGNATURE_INPUT": signed["Signature-Input"],
            "HTTP_SIGNATURE": signed["Signature"],
        }


def _post_raw(body: bytes, headers: dict):
    return Client().post("/ucp/acme/checkout-sessions", data=body, content_type="application/json", **headers)


def test_required_signatures_are_verified_against_the_platform_keys(catalog_items, ucp_org):
    UcpSettings.objects.filter(id=ucp_org.id).update(require_signatures=True)
    platform = SignedPlatform(ucp_org.organization)
    body = json.dumps(BODY).encode()
    unsigned = _post_raw(body, {"HTTP_UCP_AGENT": f'profile="{platform.url}"'})
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "signature_missing"
    tampered = _post_raw(body + b" ", platform.headers(body))
    assert tampered.status_code == 400 and tampered.json()["code"] == "digest_mismatch"
    unknown = _post_raw(body, platform.headers(body, kid="nope"))
    assert unknown.status_code == 401 and unknown.json()["code"] == "key_not_found"
    elsewhere = _post_raw(body, platform.headers(body, path="/ucp/acme/catalog/search"))
    assert elsewhere.status_code == 401 and elsewhere.json()["code"] == "signature_invalid"
    _nothing_stored()
    signed = _post_raw(body, platform.headers(body))
    assert signed.status_code == 201


def test_one_organization_never_reaches_another(catalog_items, other_ucp_org):
    agent = Agent("acme")
    checkout_id = agent.post("/checkout-sessions", BODY).json()["id"]
    other = Agent("globex")
    assert other.get(f"/checkout-sessions/{checkout_id}").status_code == 404
    assert other.post(f"/checkout-sessions/{checkout_id}/cancel").status_code == 404
    assert other.post("/catalog/search", {"query": "*"}).json()["products"] == []
    assert other.post("/checkout-sessions", BODY).json()["ucp"]["status"] == "error"  # acme's plan is not sold there


def test_another_platform_never_reaches_a_checkout(catalog_items, ucp_org):
    setup.platform_register(ucp_org.organization, profile_url="https://b.example.test/p", profile=platform_profile())
    checkout_id = Agent("acme").post("/checkout-sessions", BODY).json()["id"]
    assert Agent("acme", "https://b.example.test/p").get(f"/checkout-sessions/{checkout_id}").status_code == 404
