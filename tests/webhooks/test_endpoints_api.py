"""Webhook endpoints API (docs/webhooks.md) and the JWT public key."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.test import override_settings

from tests.factories.webhooks import WebhookEndpointFactory
from webhooks.models import WebhookEndpoint, WebhookSigningKey

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook_endpoints"


def create(client, **fields):
    body = {"webhook_url": "https://hooks.example.test/bxb", **fields}
    return client.post(URL, {"webhook_endpoint": body}, format="json")


def test_create_find_list_update_delete(tenant):
    response = create(tenant.client, signature_algo="hmac", name="Main", event_types=["customer.created"])
    assert response.status_code == 200
    endpoint = response.json()["webhook_endpoint"]
    assert endpoint["webhook_url"] == "https://hooks.example.test/bxb"
    assert endpoint["signature_algo"] == "hmac"
    assert endpoint["name"] == "Main"
    assert endpoint["event_types"] == ["customer.created"]
    assert endpoint["lago_organization_id"] == str(tenant.organization.pk)
    assert endpoint["created_at"].endswith("Z")
    lago_id = endpoint["lago_id"]

    assert tenant.client.get(f"{URL}/{lago_id}").json()["webhook_endpoint"] == endpoint

    listed = tenant.client.get(URL).json()
    assert [item["lago_id"] for item in listed["webhook_endpoints"]] == [lago_id]
    assert listed["meta"]["total_count"] == 1

    updated = tenant.client.put(f"{URL}/{lago_id}", {"webhook_endpoint": {"signature_algo": "jwt"}}, format="json")
    assert updated.status_code == 200
    body = updated.json()["webhook_endpoint"]
    assert body["signature_algo"] == "jwt"
    assert body["webhook_url"] == endpoint["webhook_url"]  # partial update
    assert body["event_types"] == ["customer.created"]

    everything = tenant.client.put(f"{URL}/{lago_id}", {"webhook_endpoint": {"event_types": None}}, format="json")
    assert everything.json()["webhook_endpoint"]["event_types"] is None

    deleted = tenant.client.delete(f"{URL}/{lago_id}")
    assert deleted.status_code == 200
    assert deleted.json()["webhook_endpoint"]["lago_id"] == lago_id
    assert not WebhookEndpoint.objects.exists()
    assert tenant.client.get(f"{URL}/{lago_id}").status_code == 404


def test_defaults_to_jwt_and_all_event_types(tenant):
    endpoint = create(tenant.client).json()["webhook_endpoint"]
    assert endpoint["signature_algo"] == "jwt"
    assert endpoint["event_types"] is None
    assert endpoint["name"] is None


@pytest.mark.parametrize("event_types", [[], ["*"], None])
def test_empty_list_and_wildcard_mean_every_type(tenant, event_types):
    endpoint = create(tenant.client, event_types=event_types).json()["webhook_endpoint"]
    assert endpoint["event_types"] is None


def test_event_types_are_deduplicated(tenant):
    endpoint = create(tenant.client, event_types=["invoice.created", "invoice.created", "customer.updated"])
    assert endpoint.json()["webhook_endpoint"]["event_types"] == ["invoice.created", "customer.updated"]


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"webhook_url": ""}, {"webhook_url": ["value_is_mandatory"]}),
        ({"webhook_url": "ftp://hooks.example.test/x"}, {"webhook_url": ["url_is_invalid"]}),
        ({"webhook_url": "hooks.example.test/x"}, {"webhook_url": ["url_is_invalid"]}),
        ({"webhook_url": "https://user:pw@hooks.example.test/x"}, {"webhook_url": ["url_is_invalid"]}),
        ({"webhook_url": "https://hooks.example.test:99999/x"}, {"webhook_url": ["url_is_invalid"]}),
        ({"signature_algo": "md5"}, {"signature_algo": ["value_is_invalid"]}),
        ({"event_types": ["not a type"]}, {"event_types": ["value_is_invalid"]}),
    ],
)
def test_invalid_input_is_refused_with_lago_codes(tenant, fields, details):
    response = create(tenant.client, **fields)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_errors"
    assert body["error_details"] == details


def test_missing_root_key_is_400(tenant):
    response = tenant.client.post(URL, {"webhook_url": "https://x.test"}, format="json")
    assert response.status_code == 400


def test_url_is_unique_per_organization(tenant, other_tenant):
    assert create(tenant.client).status_code == 200
    duplicate = create(tenant.client)
    assert duplicate.status_code == 422
    assert duplicate.json()["error_details"] == {"webhook_url": ["value_already_exist"]}
    assert create(other_tenant.client).status_code == 200  # another organization may use it

    second = create(tenant.client, webhook_url="https://hooks.example.test/other").json()["webhook_endpoint"]
    clash = tenant.client.put(
        f"{URL}/{second['lago_id']}",
        {"webhook_endpoint": {"webhook_url": "https://hooks.example.test/bxb"}},
        format="json",
    )
    assert clash.status_code == 422
    assert clash.json()["error_details"] == {"webhook_url": ["value_already_exist"]}


def test_at_most_ten_endpoints_per_organization(tenant):
    for index in range(10):
        assert create(tenant.client, webhook_url=f"https://hooks.example.test/{index}").status_code == 200
    eleventh = create(tenant.client, webhook_url="https://hooks.example.test/10")
    assert eleventh.status_code == 422
    assert eleventh.json()["error_details"] == {"base": ["exceeded_limit"]}
    assert WebhookEndpoint.objects.filter(organization=tenant.organization).count() == 10


@override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "http://172.16.5.4/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hooks",
        "http://[fe80::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://0.0.0.0/hooks",
        "http://localhost./hooks",
        "http://LOCALHOST../hooks",
        "http://api.localhost./hooks",
        "http://[2002:7f00:1::1]/hooks",
        "http://[64:ff9b::7f00:1]/hooks",
        "http://[::ffff:7f00:1]/hooks",
        "http://[::127.0.0.1]/hooks",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hooks",
        "http://2130706433/hooks",
    ],
)
def test_private_targets_are_refused_by_default(tenant, url):
    response = create(tenant.client, webhook_url=url)
    assert response.status_code == 422
    assert response.json()["error_details"] == {"webhook_url": ["url_resolves_to_private_address"]}


@override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
def test_public_and_unresolvable_targets_are_accepted(tenant):
    assert create(tenant.client, webhook_url="https://93.184.215.14/hooks").status_code == 200
    # A name that does not resolve (yet) cannot be judged; the delivery re-checks before each attempt.
    assert create(tenant.client, webhook_url="https://hooks.example.invalid/x").status_code == 200


@override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=True)
def test_private_targets_are_accepted_when_the_setting_allows(tenant):
    assert create(tenant.client, webhook_url="http://127.0.0.1:9/hooks").status_code == 200


def test_another_tenant_gets_404(tenant, other_tenant):
    endpoint = WebhookEndpointFactory(organization=tenant.organization)
    for response in (
        other_tenant.client.get(f"{URL}/{endpoint.pk}"),
        other_tenant.client.put(f"{URL}/{endpoint.pk}", {"webhook_endpoint": {"name": "x"}}, format="json"),
        other_tenant.client.delete(f"{URL}/{endpoint.pk}"),
    ):
        assert response.status_code == 404
        assert response.json() == {"status": 404, "error": "Not Found", "code": "webhook_endpoint_not_found"}
    assert other_tenant.client.get(URL).json()["webhook_endpoints"] == []
    assert tenant.client.get(f"{URL}/not-a-uuid").status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.name != "x"


def test_unauthenticated_is_401(client):
    assert client.get(URL).status_code == 401


def test_public_key_is_generated_once_per_organization(tenant, other_tenant):
    first = tenant.client.get("/api/v1/webhooks/json_public_key")
    assert first.status_code == 200
    pem = base64.b64decode(first.json()["webhook"]["public_key"])
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert load_pem_public_key(pem).key_size == 2048
    again = tenant.client.get("/api/v1/webhooks/json_public_key").json()
    assert again == first.json()
    other = other_tenant.client.get("/api/v1/webhooks/json_public_key").json()
    assert other != first.json()
    assert WebhookSigningKey.objects.count() == 2


def test_plain_public_key_is_served_and_not_taken_for_a_delivery_id(tenant, other_tenant):
    """Lago's older `GET /webhooks/public_key` answers the same key as text (it was routed to
    `/webhooks/{id}` and answered 404)."""
    plain = tenant.client.get("/api/v1/webhooks/public_key")
    assert plain.status_code == 200, plain.content
    assert plain["Content-Type"].startswith("text/plain")
    assert (
        plain.content.decode() == tenant.client.get("/api/v1/webhooks/json_public_key").json()["webhook"]["public_key"]
    )
    key = load_pem_public_key(base64.b64decode(plain.content))
    assert isinstance(key, RSAPublicKey) and key.key_size == 2048
    assert other_tenant.client.get("/api/v1/webhooks/public_key").content != plain.content
    assert tenant.client.get("/v1/webhooks/public_key").content == plain.content


def test_plain_public_key_needs_a_key_and_the_permission(client, tenant):
    from rest_framework.test import APIClient

    from customers.services import api_key_create

    assert client.get("/api/v1/webhooks/public_key").status_code == 401
    _, raw = api_key_create(tenant.organization, name="c", permissions={"customer": ["read"]})
    scoped = APIClient()
    scoped.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    refused = scoped.get("/api/v1/webhooks/public_key")
    assert refused.status_code == 403
    assert refused.json()["code"] == "read_action_not_allowed_for_webhook_jwt_public_key"


@pytest.mark.django_db(transaction=True)
def test_endpoints_through_the_official_lago_client(lago):
    from lago_python_client.exceptions import LagoApiError
    from lago_python_client.models import WebhookEndpoint as LagoWebhookEndpoint

    client = lago.client.webhook_endpoints
    created = client.create(LagoWebhookEndpoint(webhook_url="https://hooks.example.test/a", signature_algo="hmac"))
    assert created.signature_algo == "hmac"
    found = client.find(created.lago_id)
    assert found.webhook_url == "https://hooks.example.test/a"
    updated = client.update(LagoWebhookEndpoint(name="Renamed"), created.lago_id)
    assert updated.name == "Renamed" and updated.signature_algo == "hmac"
    listed = client.find_all()
    assert [item.lago_id for item in listed["webhook_endpoints"]] == [created.lago_id]
    destroyed = client.destroy(created.lago_id)
    assert destroyed.lago_id == created.lago_id
    with pytest.raises(LagoApiError) as excinfo:
        client.find(created.lago_id)
    assert excinfo.value.status_code == 404


def test_scoped_api_keys_are_checked_against_webhook_resources(tenant):
    from rest_framework.test import APIClient

    from customers.services import api_key_create

    endpoint = WebhookEndpointFactory(organization=tenant.organization)
    _, raw = api_key_create(
        tenant.organization, name="ro", permissions={"webhook_endpoint": ["read"], "webhook_jwt_public_key": ["read"]}
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(URL).status_code == 200
    assert client.get(f"{URL}/{endpoint.pk}").status_code == 200
    assert client.get("/api/v1/webhooks/json_public_key").status_code == 200
    assert client.get("/api/v1/webhooks").status_code == 200
    refused = create(client)
    assert refused.status_code == 403
    assert refused.json()["code"] == "write_action_not_allowed_for_webhook_endpoint"
    assert client.delete(f"{URL}/{endpoint.pk}").status_code == 403

    _, customers_only = api_key_create(tenant.organization, name="c", permissions={"customer": ["read", "write"]})
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {customers_only}")
    assert client.get(URL).status_code == 403
    assert (
        client.get("/api/v1/webhooks/json_public_key").json()["code"]
        == "read_action_not_allowed_for_webhook_jwt_public_key"
    )
