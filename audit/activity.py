"""Lago's activity-log vocabulary for audit entries (pure: no ORM, no settings).

An audit entry (`audit.models.AuditLogEntry`) is one create, update or delete of a row. Lago's
activity log names the same thing `<resource>.<verb>` ("billable_metric.created",
"invoice.voided") with the resource's class name ("BillableMetric"). The names are computed
when the entry is written (`activity_type`), so the API filters them in SQL. Rules
(docs/audit.md, "Activity logs"):

* the resource name is Lago's where Lago has the resource, else the model's name in snake_case;
* a create is `created`, a delete `deleted`, an update `updated`; a soft delete (an update that
  sets `deleted_at`) is `deleted`;
* some state changes have Lago's own verb: an invoice created as a draft is `drafted`, its
  finalization `created` (Lago's "invoice.created" is the issued invoice), a void `voided`, a
  failed generation `failed`, a change of payment status `payment_status_updated`, becoming overdue
  `payment_overdue`; a subscription created or turned active is `started`, terminated
  `terminated`, canceled `canceled`; a payment's creation is `recorded`.
"""

from __future__ import annotations

import re
from typing import Any

# model label (lower case) -> (Lago's resource name, Lago's resource type)
RESOURCES: dict[str, tuple[str, str]] = {
    "customers.customer": ("customer", "Customer"),
    "customers.apikey": ("api_key", "ApiKey"),
    "catalog.plan": ("plan", "Plan"),
    "catalog.charge": ("charge", "Charge"),
    "catalog.chargefilter": ("charge_filter", "ChargeFilter"),
    "catalog.tax": ("tax", "Tax"),
    "catalog.coupon": ("coupon", "Coupon"),
    "catalog.appliedcoupon": ("applied_coupon", "AppliedCoupon"),
    "catalog.addon": ("add_on", "AddOn"),
    "catalog.billablemetric": ("billable_metric", "BillableMetric"),
    "subscriptions.subscription": ("subscription", "Subscription"),
    "invoicing.invoice": ("invoice", "Invoice"),
    "invoicing.creditnote": ("credit_note", "CreditNote"),
    "invoicing.wallet": ("wallet", "Wallet"),
    "invoicing.wallettransaction": ("wallet_transaction", "WalletTransaction"),
    "payments.payment": ("payment", "Payment"),
    "payments.refund": ("refund", "Refund"),
    "entitlements.feature": ("feature", "Entitlement::Feature"),
    "entitlements.privilege": ("privilege", "Entitlement::Privilege"),
    "entitlements.entitlement": ("entitlement", "Entitlement::Entitlement"),
    "entitlements.entitlementvalue": ("entitlement_value", "Entitlement::EntitlementValue"),
    "entitlements.subscriptionfeatureremoval": (
        "subscription_feature_removal",
        "Entitlement::SubscriptionFeatureRemoval",
    ),
}

# The audit actor's type -> Lago's activity source (a staff user acts in the console, Lago's "front").
SOURCES: dict[str, str] = {"api_key": "api", "user": "front", "system": "system"}
ACTIVITY_SOURCES = ("api", "front", "system")

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def resource_of(label_lower: str, class_name: str) -> tuple[str, str]:
    """(resource name, resource type) of a model, e.g. ("billable_metric", "BillableMetric")."""
    return RESOURCES.get(label_lower) or (_CAMEL.sub("_", class_name).lower(), class_name)


def resource_types() -> list[str]:
    return [resource_type for _, resource_type in RESOURCES.values()]


def _after(changes: dict[str, Any], field: str) -> Any:
    pair = changes.get(field)
    return pair[1] if isinstance(pair, list | tuple) and len(pair) == 2 else None


def _changed(changes: dict[str, Any], field: str) -> bool:
    return field in changes


def _verb(resource: str, action: str, changes: dict[str, Any]) -> str:
    if action == "delete":
        return "deleted"
    if action == "create":
        if resource == "invoice":
            return "drafted" if _after(changes, "status") == "draft" else "created"
        if resource == "subscription" and _after(changes, "status") == "active":
            return "started"
        if resource == "payment":
            return "recorded"
        return "created"
    # update
    if _changed(changes, "deleted_at") and _after(changes, "deleted_at") is not None:
        return "deleted"
    if resource == "invoice":
        status = _after(changes, "status") if _changed(changes, "status") else None
        if status == "finalized":
            return "created"
        if status == "voided":
            return "voided"
        if status == "failed":
            return "failed"
        if _changed(changes, "payment_status"):
            return "payment_status_updated"
        if _after(changes, "payment_overdue") is True:
            return "payment_overdue"
    if resource == "subscription" and _changed(changes, "status"):
        status = _after(changes, "status")
        if status in ("active", "terminated", "canceled"):
            return {"active": "started", "terminated": "terminated", "canceled": "canceled"}[status]
    return "updated"


def activity_type(label_lower: str, class_name: str, action: str, changes: dict[str, Any]) -> str:
    """Lago's activity type of an audit entry: `<resource>.<verb>`."""
    resource, _ = resource_of(label_lower, class_name)
    return f"{resource}.{_verb(resource, action, changes)}"


def replay(history: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The object's fields after the last entry of `history` ((action, changes) in order): a create
    sets the values it wrote, an update changes the fields it changed, a delete leaves the values
    the row had. Fields empty at creation are absent until an update sets them."""
    state: dict[str, Any] = {}
    for action, changes in history:
        if action == "create":
            state = {field: pair[1] for field, pair in changes.items()}
        elif action == "update":
            state.update({field: pair[1] for field, pair in changes.items()})
        else:
            state = {field: pair[0] for field, pair in changes.items()}
    return state
