from __future__ import annotations

import pytest

from payments.services.connections import connection_create
from tests.factories.customers import OrganizationFactory
from ucp.models import PlatformPolicy
from ucp.services import setup

PLATFORM_URL = "https://agent.example.test/profile.json"


def platform_profile(version: str = "2026-04-08", keys: list | None = None, capabilities: dict | None = None) -> dict:
    caps = capabilities
    if caps is None:
        caps = {
            name: [
                {"version": "2026-04-08", "spec": f"https://ucp.dev/{name}", "schema": f"https://ucp.dev/{name}.json"}
            ]
            for name in (
                "dev.ucp.shopping.checkout",
                "dev.ucp.shopping.order",
                "dev.ucp.shopping.catalog.search",
                "dev.ucp.shopping.catalog.lookup",
            )
        }
    return {
        "ucp": {"version": version, "services": {}, "capabilities": caps, "payment_handlers": {}},
        "signing_keys": keys or [],
    }


def enable_ucp(organization, slug: str, *, provider: str = "stripe", **kwargs):
    connection = connection_create(
        organization, code=f"{provider}_main", provider=provider, secret_key="sk_test_x" if provider == "stripe" else ""
    )
    kwargs.setdefault("platform_policy", PlatformPolicy.REGISTERED)
    return setup.ucp_settings_save(
        organization,
        slug=slug,
        public_base_url=f"https://billing.example.com/ucp/{slug}",
        payment_connection=connection,
        **kwargs,
    )


@pytest.fixture
def ucp_org(db):
    organization = OrganizationFactory(name="Acme")
    settings = enable_ucp(organization, "acme")
    setup.platform_register(organization, profile_url=PLATFORM_URL, name="Agent", profile=platform_profile())
    return settings


@pytest.fixture
def other_ucp_org(db):
    organization = OrganizationFactory(name="Globex")
    settings = enable_ucp(organization, "globex", provider="manual")
    setup.platform_register(organization, profile_url=PLATFORM_URL, name="Agent", profile=platform_profile())
    return settings
