"""`/ucp/<slug>/.well-known/ucp`: the business profile of one organization."""

from __future__ import annotations

import pytest
from django.test import Client

from billing_project.core.errors import ValidationFailure
from tests.factories.customers import OrganizationFactory
from ucp import protocol, signing
from ucp.models import UcpSettings
from ucp.services import setup

pytestmark = pytest.mark.django_db


def _profile(slug: str):
    return Client().get(f"/ucp/{slug}/.well-known/ucp")


def test_profile_declares_version_services_capabilities_handlers_and_key(ucp_org):
    response = _profile("acme")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    ucp = body["ucp"]
    assert ucp["version"] == protocol.VERSION
    [rest] = ucp["services"]["dev.ucp.shopping"]
    assert rest == {
        "version": protocol.VERSION,
        "spec": f"https://ucp.dev/{protocol.VERSION}/specification/overview",
        "transport": "rest",
        "endpoint": "https://billing.example.com/ucp/acme",
        "schema": f"https://ucp.dev/{protocol.VERSION}/services/shopping/rest.openapi.json",
    }
    for name, entries in ucp["capabilities"].items():
        assert name.startswith("dev.ucp.")
        for entry in entries:
            assert entry["version"] == protocol.VERSION
            assert entry["spec"].startswith("https://ucp.dev/") and entry["schema"].startswith("https://ucp.dev/")
    assert "dev.ucp.shopping.checkout" in ucp["capabilities"]
    [(handler_name, [handler])] = ucp["payment_handlers"].items()
    assert handler_name == "com.example.billing.stripe_tokenizer"
    assert handler["id"] == "stripe_main"
    assert handler["spec"].startswith("https://billing.example.com/")  # origin matches the namespace
    [key] = body["signing_keys"]
    assert key["kid"] == ucp_org.signing_kid and key["crv"] == "P-256" and "d" not in key
    assert "supported_versions" not in ucp  # one protocol version


def test_profile_is_cacheable_by_shared_caches_for_at_least_a_minute(ucp_org):
    cache_control = _profile("acme")["Cache-Control"]
    assert "public" in cache_control
    assert int(cache_control.split("max-age=")[1]) >= 60
    for refused in ("private", "no-store", "no-cache"):
        assert refused not in cache_control


def test_unknown_and_disabled_organizations_answer_the_same_404(ucp_org):
    UcpSettings.objects.filter(id=ucp_org.id).update(enabled=False)
    for slug in ("acme", "nobody"):
        response = _profile(slug)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_each_organization_publishes_only_its_own_profile(ucp_org, other_ucp_org):
    acme, globex = _profile("acme").json(), _profile("globex").json()
    assert acme["signing_keys"][0]["kid"] != globex["signing_keys"][0]["kid"]
    assert acme["ucp"]["services"]["dev.ucp.shopping"][0]["endpoint"].endswith("/ucp/acme")
    assert globex["ucp"]["services"]["dev.ucp.shopping"][0]["endpoint"].endswith("/ucp/globex")
    assert list(globex["ucp"]["payment_handlers"]) == ["com.example.billing.pay_by_invoice"]


def test_payment_handler_spec_is_served_under_the_business_origin(ucp_org):
    response = Client().get("/ucp/acme/payment-handlers/stripe_main")
    assert response.status_code == 200
    assert response.json()["credential"]["type"] == "stripe_payment_method"
    assert Client().get("/ucp/acme/payment-handlers/nope").status_code == 404


def test_settings_refuse_a_base_url_that_is_not_https_and_a_taken_slug(ucp_org):
    organization = OrganizationFactory()
    with pytest.raises(ValidationFailure):
        setup.ucp_settings_save(organization, slug="new", public_base_url="http://billing.example.com/ucp/new")
    with pytest.raises(ValidationFailure):
        setup.ucp_settings_save(organization, slug="acme", public_base_url="https://billing.example.com/ucp/acme")
    with pytest.raises(ValidationFailure):
        setup.ucp_settings_save(organization, slug="Bad Slug", public_base_url="https://x.example.com")
    assert not UcpSettings.objects.filter(organization=organization).exists()


def test_saving_again_keeps_the_key_and_rotation_replaces_it(ucp_org):
    again = setup.ucp_settings_save(
        ucp_org.organization, slug="acme", public_base_url="https://billing.example.com/ucp/acme/"
    )
    assert again.signing_kid == ucp_org.signing_kid
    assert again.public_base_url == "https://billing.example.com/ucp/acme"  # no trailing slash
    rotated = setup.ucp_signing_key_rotate(again)
    assert rotated.signing_kid != ucp_org.signing_kid
    keys = _profile("acme").json()["signing_keys"]
    assert [k["kid"] for k in keys] == [rotated.signing_kid, ucp_org.signing_kid]  # the old one, for 7 days
    assert all("d" not in k and "retired_at" not in k for k in keys)
    import datetime as dt

    from django.utils import timezone

    assert setup.published_retired_keys(rotated, now=timezone.now() + dt.timedelta(days=8)) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://billing.example.com/ucp/a", "com.example.billing"),
        ("https://127.0.0.1:8443/ucp/a", "dev.bxb.local"),
        ("https://localhost/ucp/a", "dev.bxb.local"),
        ("https://shop-1.example.org", "org.example.shop_1"),
    ],
)
def test_default_namespace_is_the_reversed_host(url, expected):
    assert setup.default_namespace(url) == expected


def test_response_signature_verifies_with_the_published_key(ucp_org):
    key, kid = setup.signing_key(ucp_org)
    headers = signing.sign_response(200, b'{"a":1}', "application/json", key=key, kid=kid)
    assert headers["Signature-Input"].startswith('sig1=("@status" "content-digest" "content-type")')
    parsed = signing.parse_signature_input(headers["Signature-Input"])
    public, digest, _size = signing.jwk_public_key(signing.public_jwk(key, kid))
    base = signing.signature_base(
        parsed.components,
        parsed.params_text,
        {"@status": "200", "content-digest": headers["Content-Digest"], "content-type": "application/json"},
    )
    raw = signing._signature_bytes(headers["Signature"], "sig1")
    assert len(raw) == 64
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    public.verify(
        encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")), base, ec.ECDSA(digest)
    )


def test_payment_handler_schema_is_served(ucp_org):
    response = Client().get("/ucp/acme/payment-handlers/stripe_main/schema.json")
    assert response.status_code == 200
    assert response.json()["properties"]["handler_id"] == {"const": "stripe_main"}
