"""API permissions: a key is required, and a scoped key may only do what its permissions allow.

API key permissions follow Lago (`ApiKey#permit?`): `None` means full access; otherwise a map from
resource name to the modes allowed on it, e.g. `{"customer": ["read", "write"], "invoice": ["read"]}`.
The mode is `read` for GET/HEAD/OPTIONS and `write` for everything else; a resource missing from the
map allows nothing. A refused call is 403 `<mode>_action_not_allowed_for_<resource>`.

Each API view names its resource with a `resource_name` class attribute (one of `RESOURCES`).
A view without one gets a name derived from its class (`PlanDetailView` → `plan`,
`EventBatchView` → `event`); a derived name
that is not a known resource is refused for every scoped key (full-access keys are unaffected),
so a forgotten `resource_name` fails closed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from billing_project.core.errors import ForbiddenFailure

# Lago's ApiKey::RESOURCES: the names a permissions map may use.
RESOURCES: tuple[str, ...] = (
    "activity_log", "add_on", "alert", "analytic", "api_log", "applied_coupon", "billable_metric",
    "billing_entity", "coupon", "credit_note", "customer", "customer_usage", "event", "feature", "fee",
    "invoice", "invoice_custom_section", "lifetime_usage", "organization", "payment", "payment_method",
    "payment_receipt", "payment_request", "plan", "subscription", "tax", "wallet", "wallet_transaction",
    "webhook_endpoint", "webhook_jwt_public_key",
)  # fmt: skip
MODES: tuple[str, ...] = ("read", "write")

_SUFFIXES = ("View", "ViewSet", "Collection", "Detail", "List", "Item", "Batch")


def read_only_permissions() -> dict[str, list[str]]:
    return {resource: ["read"] for resource in RESOURCES}


def permissions_errors(permissions: Any) -> list[str]:
    """Lago's validation codes for a permissions value (empty when valid; None is valid)."""
    if permissions is None:
        return []
    if not isinstance(permissions, Mapping) or not permissions:
        return ["value_is_invalid"]
    codes: list[str] = []
    if any(key not in RESOURCES for key in permissions):
        codes.append("forbidden_keys")
    for modes in permissions.values():
        if not isinstance(modes, list | tuple) or any(mode not in MODES for mode in modes):
            codes.append("forbidden_values")
            break
    return codes


def normalize_permissions(permissions: Mapping[str, Any] | None) -> dict[str, list[str]] | None:
    if permissions is None:
        return None
    return {key: sorted(set(modes), key=MODES.index) for key, modes in sorted(permissions.items())}


def permits(permissions: Mapping[str, Any] | None, resource: str, mode: str) -> bool:
    if permissions is None:
        return True
    modes = permissions.get(resource)
    return isinstance(modes, list | tuple) and mode in modes


def request_mode(method: str | None) -> str:
    return "read" if (method or "GET").upper() in SAFE_METHODS else "write"


def resource_name_of(view: Any) -> str:
    """The view's `resource_name`, or a name derived from its class name."""
    declared = getattr(view, "resource_name", None)
    if declared:
        return str(declared)
    name = type(view).__name__
    stripped = True
    while stripped:
        stripped = False
        for suffix in _SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                stripped = True
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class HasApiKey(BasePermission):
    """Every API call needs an authenticated organization key (set by the authentication class)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return getattr(request, "auth", None) is not None


class ApiKeyScope(BasePermission):
    """Enforces the key's permissions (see the module docstring); full-access keys pass."""

    def has_permission(self, request: Any, view: Any) -> bool:
        api_key = getattr(request, "auth", None)
        if api_key is None:
            return True  # HasApiKey answers 401
        permissions = getattr(api_key, "permissions", None)
        if permissions is None:
            return True
        resource = resource_name_of(view)
        mode = request_mode(request.method)
        if not permits(permissions, resource, mode):
            raise ForbiddenFailure(f"{mode}_action_not_allowed_for_{resource}")
        return True
