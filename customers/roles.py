"""The four staff roles of the finance console, as Django groups with model permissions.

Group permissions are (re)synced after every `migrate`, so models added by later releases are
covered without hand edits. Users may be in several groups; Django unions their permissions.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

BILLING_APPS = ("core", *settings.BILLING_APPS)
OPS_APPS = ("django_celery_beat",)

SUPER_ADMIN = "Super Admin"
BILLING_ADMIN = "Billing Admin"
SUPPORT_REP = "Support Rep"
FINANCE_VIEWER = "Finance Viewer"
ROLES = (SUPER_ADMIN, BILLING_ADMIN, SUPPORT_REP, FINANCE_VIEWER)

# What a Support Rep may change besides viewing everything.
SUPPORT_EDITABLE_MODELS = {("customers", "customer"), ("customers", "customermetadata")}


def _wanted(role: str, app_label: str, model: str, action: str) -> bool:
    if role == SUPER_ADMIN:
        return True
    in_billing = app_label in BILLING_APPS
    if role == BILLING_ADMIN:
        return in_billing or (app_label in OPS_APPS and action == "view")
    if role == SUPPORT_REP:
        if not in_billing:
            return False
        if action == "view":
            return True
        return (app_label, model) in SUPPORT_EDITABLE_MODELS and action in {"add", "change"}
    if role == FINANCE_VIEWER:
        return in_billing and action == "view"
    return False


def sync_staff_groups(group_model: Any, permission_model: Any) -> None:
    """Create the four groups if missing and set their permissions. Idempotent."""
    permissions = list(permission_model.objects.select_related("content_type"))
    for role in ROLES:
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for permission in permissions:
            action = permission.codename.split("_", 1)[0]
            content_type = permission.content_type
            if _wanted(role, content_type.app_label, content_type.model, action):
                wanted.append(permission)
        group.permissions.set(wanted)


def require_declared_action_permissions(site: Any) -> list[str]:
    """Give every admin action that declares no `permissions=[...]` a `change` requirement.

    Django offers an action without `allowed_permissions` to anyone who can see the changelist,
    so a Finance Viewer would get state-changing actions by default. After this, an action is
    offered only to users holding what it declares (`has_<perm>_permission`), `change` unless
    it says otherwise (a read-only action declares `permissions=["view"]`). Returns the actions
    it guarded, as `app_label.model.action`.
    """
    guarded = []
    for model, model_admin in site._registry.items():
        for action in model_admin.actions or ():
            func = getattr(model_admin, action, None) if isinstance(action, str) else action
            func = getattr(func, "__func__", func)
            if func is None or getattr(func, "allowed_permissions", None):
                continue
            func.allowed_permissions = ("change",)
            guarded.append(f"{model._meta.label_lower}.{getattr(func, '__name__', action)}")
    return guarded
