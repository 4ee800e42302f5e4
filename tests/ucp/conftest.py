from __future__ import annotations

import json
from typing import Any

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


def enable_ucp(organization, slug: str, *, provider: str = "stripe", **kwargs: Any):
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


from tests.payments.conftest import fake_stripe  # noqa: E402,F401  (the fake Stripe API fixture)


def agent_headers(profile_url: str = PLATFORM_URL, extra: dict[str, str] | None = None) -> dict[str, Any]:
    headers: dict[str, Any] = {"HTTP_UCP_AGENT": f'profile="{profile_url}"'}
    for key, value in (extra or {}).items():
        headers["HTTP_" + key.upper().replace("-", "_")] = value
    return headers


class Agent:
    """A platform calling one organization's UCP endpoint through Django's test client."""

    def __init__(self, slug: str, profile_url: str = PLATFORM_URL):
        from django.test import Client

        self.client = Client()
        self.base = f"/ucp/{slug}"
        self.profile_url = profile_url

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = json.dumps(body) if body is not None else b""
        extra = agent_headers(self.profile_url, headers)
        return self.client.post(self.base + path, data=data, content_type="application/json", **extra)

    def put(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        extra = agent_headers(self.profile_url, headers)
        return self.client.put(self.base + path, data=json.dumps(body), content_type="application/json", **extra)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        extra = agent_headers(self.profile_url, headers)
        return self.client.get(self.base + path, **extra)


@pytest.fixture
def catalog_items(ucp_org):
    from tests.factories.catalog import AddOnFactory, BillableMetricFactory, ChargeFactory, PlanFactory
    from ucp.models import UcpListing

    org = ucp_org.organization
    pro = PlanFactory(organization=org, code="pro", name="Pro", amount_cents=2000, pay_in_advance=True)
    metered = PlanFactory(organization=org, code="metered", name="Metered", amount_cents=500, pay_in_advance=False)
    metric = BillableMetricFactory(organization=org, name="API calls", code="api_calls")
    ChargeFactory(plan=metered, billable_metric=metric)
    setup_fee = AddOnFactory(organization=org, code="setup", name="Setup", amount_cents=5000)
    hidden = PlanFactory(organization=org, code="hidden", name="Hidden")
    for row in (pro, metered):
        UcpListing.objects.create(organization=org, plan=row)
    UcpListing.objects.create(organization=org, add_on=setup_fee)
    return {"pro": pro, "metered": metered, "setup": setup_fee, "hidden": hidden}


@pytest.fixture
def agent(ucp_org):
    return Agent("acme")
