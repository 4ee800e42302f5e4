"""The per-process API key cache (customers/auth.py): fewer queries, and what may be stale for how long."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing_project.core import localcache
from customers import auth
from customers.models import ApiKey, Organization
from customers.services import api_key_create, api_key_revoke, api_key_set_permissions

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_caches():
    localcache.clear_all()
    yield
    localcache.clear_all()


def _key(tenant) -> ApiKey:
    return ApiKey.objects.get(organization=tenant.organization)


def test_a_known_key_is_read_from_the_database_once_per_ttl(tenant):
    assert tenant.client.get("/api/v1/customers").status_code == 200  # first use: key read, last_used_at written
    with CaptureQueriesContext(connection) as queries:
        assert tenant.client.get("/api/v1/customers").status_code == 200
    assert not [q for q in queries.captured_queries if "customers_apikey" in q["sql"]]
    assert not [q for q in queries.captured_queries if 'FROM "customers_organization"' in q["sql"]]


def test_without_cache_every_request_reads_the_key(tenant):
    with override_settings(API_KEY_CACHE_SECONDS=0):
        tenant.client.get("/api/v1/customers")
        with CaptureQueriesContext(connection) as queries:
            assert tenant.client.get("/api/v1/customers").status_code == 200
    assert len([q for q in queries.captured_queries if "customers_apikey" in q["sql"]]) == 1


def test_revoking_in_this_process_is_refused_at_once(tenant):
    assert tenant.client.get("/api/v1/customers").status_code == 200
    api_key_revoke(_key(tenant))
    assert tenant.client.get("/api/v1/customers").status_code == 401


def test_permission_change_in_this_process_applies_at_once(tenant):
    assert (
        tenant.client.post("/api/v1/customers", {"customer": {"external_id": "c1"}}, format="json").status_code == 200
    )
    api_key_set_permissions(_key(tenant), permissions={"customer": ["read"]})
    refused = tenant.client.post("/api/v1/customers", {"customer": {"external_id": "c2"}}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "write_action_not_allowed_for_customer"


def test_a_change_made_elsewhere_is_seen_after_the_ttl(tenant):
    """`QuerySet.update()` sends no signal: it stands for a revocation made in another worker."""
    with override_settings(API_KEY_CACHE_SECONDS=60):
        assert tenant.client.get("/api/v1/customers").status_code == 200
        ApiKey.objects.filter(pk=_key(tenant).pk).update(revoked_at=timezone.now())
        assert tenant.client.get("/api/v1/customers").status_code == 200  # still cached here
        for entry_key, (expires, value) in list(auth._keys._data.items()):
            auth._keys._data[entry_key] = (expires - 61, value)  # the TTL has passed
        assert tenant.client.get("/api/v1/customers").status_code == 401


def test_unknown_or_revoked_keys_are_never_cached(tenant):
    organization = tenant.organization
    api_key, raw = api_key_create(organization, name="later")
    api_key_revoke(api_key)
    assert auth.authenticate(raw) is None
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=None)  # "un-revoked" elsewhere
    assert auth.authenticate(raw) is not None
    assert auth.authenticate("bxb_nothing_here") is None
    assert len(auth._keys) == 1


def test_each_request_gets_its_own_instances(tenant):
    first = auth.authenticate(tenant.raw_key)
    first.organization.name = "changed in memory by a request that then failed"
    first.permissions = {"plan": ["read"]}
    second = auth.authenticate(tenant.raw_key)
    assert second is not first and second.organization is not first.organization
    assert second.organization.name == tenant.organization.name
    assert second.permissions is None
    assert second.organization_id == tenant.organization.pk
    assert second._state.adding is False


def test_organization_saved_in_this_process_is_seen_at_once(tenant):
    auth.authenticate(tenant.raw_key)
    organization = Organization.objects.get(pk=tenant.organization.pk)
    organization.timezone = "Europe/Paris"
    organization.save()
    assert auth.authenticate(tenant.raw_key).organization.timezone == "Europe/Paris"


def test_last_use_is_still_recorded_about_once_a_minute(tenant):
    auth.authenticate(tenant.raw_key)
    first = _key(tenant).last_used_at
    assert first is not None
    auth.authenticate(tenant.raw_key)
    assert _key(tenant).last_used_at == first
    # A minute later (the cached copy says so), the next request writes it again.
    for entry_key, (expires, (key_values, org_values)) in list(auth._keys._data.items()):
        fields = [f.attname for f in ApiKey._meta.concrete_fields]
        values = list(key_values)
        values[fields.index("last_used_at")] = first - timedelta(seconds=61)
        auth._keys._data[entry_key] = (expires, (tuple(values), org_values))
    auth.authenticate(tenant.raw_key)
    assert _key(tenant).last_used_at > first
