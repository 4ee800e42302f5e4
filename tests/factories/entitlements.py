"""Helpers for entitlements tests: features with privileges, plan grants, a subscription on a plan."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from entitlements import services
from entitlements.models import Feature
from tests.factories.invoicing import make_customer, make_plan, subscribe

UTC = dt.UTC


def make_feature(
    organization: Any, code: str = "seats", privileges: list[dict[str, Any]] | None = None, **extra: Any
) -> Feature:
    """A feature; `privileges` as the API takes them (`{"code", "value_type", "config", ...}`)."""
    items = [
        services.PrivilegeInput(
            code=p["code"],
            name=p.get("name", services.UNSET),
            value_type=p.get("value_type", services.UNSET),
            config=p.get("config", services.UNSET),
            billable_metric_code=p.get("billable_metric_code", services.UNSET),
        )
        for p in (privileges or [])
    ]
    return services.feature_create(organization, code=code, privileges=items, **extra)


SEATS = [
    {"code": "max", "name": "Maximum", "value_type": "integer"},
    {"code": "max_admins", "name": "Max Admins", "value_type": "integer"},
    {"code": "root", "name": "Allow root user", "value_type": "boolean"},
]
SSO = [
    {
        "code": "provider",
        "name": "SSO Provider",
        "value_type": "select",
        "config": {"select_options": ["google", "okta"]},
    }
]


def catalog(organization: Any, *, plan_code: str = "startup") -> Any:
    """Features `seats` and `sso`, a plan granting seats (max 10, max_admins 5, root true) and sso (google)."""
    make_feature(organization, "seats", SEATS, name="Number of seats", description="Users of the account")
    make_feature(organization, "sso", SSO, name="SSO")
    plan = make_plan(organization, code=plan_code)
    services.plan_entitlements_update(
        organization,
        plan_code=plan.code,
        entitlements={"seats": {"max": 10, "max_admins": 5, "root": True}, "sso": {"provider": "google"}},
        partial=False,
    )
    return plan


def subscription_on(plan: Any, *, external_id: str | None = None, started_at: dt.datetime | None = None) -> Any:
    customer = make_customer(plan.organization, currency="USD")
    return subscribe(
        customer,
        plan,
        started_at or dt.datetime(2024, 1, 1, tzinfo=UTC),
        external_id=external_id or f"sub_{uuid.uuid4().hex[:8]}",
    )
