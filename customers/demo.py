"""The demo data set behind `manage.py seed_demo`.

Apps below `customers` add their own steps (plans, subscriptions, events, invoices) with
`register_step` from their AppConfig.ready(); each step must be idempotent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.db import transaction

from customers import services
from customers.inputs import CustomerUpsert
from customers.models import ApiKey, Organization

DEMO_ORGANIZATION = "bxb Demo"
DEFAULT_DEMO_KEY = "bxb_demo_local_only_key"

DEMO_CUSTOMERS: list[dict[str, Any]] = [
    {"external_id": "demo-acme", "name": "Acme Corp", "email": "billing@acme.test", "currency": "USD",
     "country": "US", "timezone": "America/Los_Angeles", "customer_type": "company"},
    {"external_id": "demo-globex", "name": "Globex GmbH", "email": "finance@globex.test", "currency": "EUR",
     "country": "DE", "timezone": "Europe/Berlin", "customer_type": "company"},
    {"external_id": "demo-jane", "name": "Jane Doe", "firstname": "Jane", "lastname": "Doe",
     "email": "jane@example.test", "currency": "USD", "country": "GB", "customer_type": "individual"},
]  # fmt: skip

_steps: list[tuple[str, Callable[[Organization], str | None]]] = []


def register_step(name: str, step: Callable[[Organization], str | None]) -> None:
    """Add a step; it receives the demo organization and may return a line to print."""
    if name not in {existing for existing, _ in _steps}:
        _steps.append((name, step))


def demo_key() -> str:
    return os.environ.get("DEMO_API_KEY", DEFAULT_DEMO_KEY)


@transaction.atomic
def seed_demo() -> tuple[Organization, str, list[str]]:
    organization = Organization.objects.filter(name=DEMO_ORGANIZATION).first()
    if organization is None:
        organization, _ = services.organization_create(DEMO_ORGANIZATION, timezone_name="UTC")
    raw_key = demo_key()
    key_hash = services.hash_api_key(raw_key)
    if not ApiKey.objects.filter(key_hash=key_hash).exists():
        ApiKey.objects.create(organization=organization, name="demo", prefix="demo", key_hash=key_hash)
    lines = []
    for data in DEMO_CUSTOMERS:
        services.customer_upsert(organization, CustomerUpsert(**data))
    lines.append(f"{len(DEMO_CUSTOMERS)} demo customers")
    for _, step in _steps:
        line = step(organization)
        if line:
            lines.append(line)
    return organization, raw_key, lines
