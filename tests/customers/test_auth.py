from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from customers.models import ApiKey
from customers.services import api_key_authenticate, api_key_create, api_key_revoke
from tests.factories.customers import OrganizationFactory

pytestmark = pytest.mark.django_db

UNAUTHORIZED = {"status": 401, "error": "Unauthorized"}


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer unknown-key", "Token abc", "Bearer a b", "bxb_demo_local_only_key"],
)
def test_missing_malformed_or_unknown_key_is_401(header):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_revoked_key_is_401(tenant):
    assert tenant.client.get("/api/v1/customers").status_code == 200
    api_key_revoke(ApiKey.objects.get(organization=tenant.organization))
    response = tenant.client.get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_key_is_stored_only_as_hash_and_records_last_use():
    organization = OrganizationFactory()
    api_key, raw = api_key_create(organization, name="ci")
    assert raw.startswith(f"bxb_{api_key.prefix}_")
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert raw not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.last_used_at is None
    found = api_key_authenticate(raw)
    assert found is not None and found.pk == api_key.pk
    stored.refresh_from_db()
    assert stored.last_used_at is not None
    assert api_key_authenticate(raw + "x") is None
    assert api_key_authenticate("x" * 500) is None


def test_both_prefixes_serve_the_api(tenant):
    assert tenant.client.get("/v1/customers").status_code == 200
    assert tenant.client.get("/api/v1/customers").status_code == 200
