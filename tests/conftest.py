"""Shared fixtures: an organization with its API key, and API clients bound to it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories.customers import OrganizationFactory, api_key_for


class Tenant:
    """An organization, its raw API key and an API client that sends it."""

    def __init__(self, organization, raw_key: str):
        self.organization = organization
        self.raw_key = raw_key
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")


@pytest.fixture
def tenant(db) -> Tenant:
    organization = OrganizationFactory()
    return Tenant(organization, api_key_for(organization))


@pytest.fixture
def other_tenant(db) -> Tenant:
    organization = OrganizationFactory(name="Other Org")
    return Tenant(organization, api_key_for(organization))


@pytest.fixture
def organization(tenant: Tenant):
    return tenant.organization


@pytest.fixture
def api(tenant: Tenant) -> APIClient:
    return tenant.client


class LagoTenant:
    """The official `lago-python-client`, pointed at a live bxb server, with its organization."""

    def __init__(self, organization, raw_key: str, base_url: str):
        from lago_python_client.client import Client

        self.organization = organization
        self.raw_key = raw_key
        self.base_url = base_url
        self.client = Client(api_key=raw_key, api_url=base_url + "/")


@pytest.fixture
def lago(live_server, transactional_db) -> LagoTenant:
    """A live test server and Lago's own client authenticated against it."""
    organization = OrganizationFactory(name="Lago Client Org")
    return LagoTenant(organization, api_key_for(organization), live_server.url)
