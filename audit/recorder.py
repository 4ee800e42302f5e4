"""Records changes of the audited models from `pre_save` / `post_save` / `post_delete` signals.

`pre_save` reads the row as it is in the database (or takes the copy a service made of the row it
locked, `billing_project.core.rowimages.take_locked_row`) and keeps it in this module's
`InstanceMap` (keyed by the instance, nothing set on it); `post_save` takes it back, diffs it
against the saved instance and writes one `AuditLogEntry` (no row for a save that changed nothing). The entry is
written in the transaction of the change, so a rolled-back change leaves no record.
`bulk_create()` and `QuerySet.update()` send no signals: their writers send the kernel's
`bulk_created` (the rows) and, through `billing_project.core.bulk.update_rows`, `bulk_updated`
(the rows before and after), recorded here in one INSERT each.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

from audit.activity import activity_type
from audit.context import current_actor
from billing_project.core.bulk import insert_rows, new_row
from billing_project.core.inserts import insert_new
from billing_project.core.rowimages import InstanceMap, take_locked_row

# app_label.ModelName of every audited model.
AUDITED_MODELS = (
    "customers.Customer",
    "customers.ApiKey",
    "catalog.Plan",
    "catalog.Charge",
    "catalog.ChargeFilter",
    "catalog.Tax",
    "catalog.Coupon",
    "catalog.AppliedCoupon",
    "catalog.AddOn",
    "catalog.BillableMetric",
    "subscriptions.Subscription",
    "invoicing.Invoice",
    "invoicing.CreditNote",
    "invoicing.Wallet",
    "invoicing.WalletTransaction",
    "payments.Payment",
    "payments.Refund",
    "entitlements.Feature",
    "entitlements.Privilege",
    "entitlements.Entitlement",
    "entitlements.EntitlementValue",
    "entitlements.SubscriptionFeatureRemoval",
)

# Never diffed: bookkeeping timestamps and secrets.
IGNORED_FIELDS = {"updated_at", "created_at", "last_used_at", "key_hash"}
SECRET_MARKERS = ("secret", "password", "token", "key_hash")

# From `pre_save` to `post_save` of an update: (the audited fields, the row before the save, or None
# when it vanished). Keyed by the instance itself, held weakly: a save that fails between the two
# leaves an entry that dies with its instance.
_BEFORE: InstanceMap[tuple[list[models.Field], dict[str, Any] | None]] = InstanceMap()


def audited_model_classes() -> list[type[models.Model]]:
    result = []
    for label in AUDITED_MODELS:
        try:
            result.append(apps.get_model(label))
        except LookupError:  # an app not installed in this deployment
            continue
    return result


def _fields(model: type[models.Model]) -> list[models.Field]:
    return [
        field for field in model._meta.concrete_fields if field.attname not in IGNORED_FIELDS and not field.primary_key
    ]


def _is_secret(field: models.Field) -> bool:
    return any(marker in field.name for marker in SECRET_MARKERS)


def _normalized(field: models.Field, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field, models.ForeignKey):
        return str(value)
    try:
        return field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return value


def to_jsonable(value: Any) -> Any:
    """Money, decimals, ids and times as strings; JSON structures kept as they are."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, float):  # never stored by our models; kept exact as its repr
        return repr(value)
    return str(value)


# `to_jsonable` of a value of exactly one of these types, without its chain of tests (None: as it is).
_JSONABLE: dict[type, Any] = {
    str: None,
    int: None,
    bool: None,
    Decimal: str,
    uuid.UUID: str,
    dt.datetime: dt.datetime.isoformat,
    dt.date: dt.date.isoformat,
}


def _shown(field: models.Field, value: Any) -> Any:
    return "***" if _is_secret(field) and value not in (None, "") else to_jsonable(value)


def _pre_save(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance._state.adding or instance.pk is None:
        _BEFORE.pop(instance)  # a creation: nothing to diff against
        return
    fields = _fields(sender)
    update_fields = kwargs.get("update_fields")
    if update_fields:
        fields = [field for field in fields if field.name in update_fields or field.attname in update_fields]
    locked_row = take_locked_row(instance)
    before: dict[str, Any] | None
    if locked_row is not None:
        before = {field.attname: locked_row.get(field.attname) for field in fields}
    else:
        rows = sender._base_manager.filter(pk=instance.pk).order_by().values(*[f.attname for f in fields])[:1]
        before = next(iter(rows), None)
    _BEFORE.put(instance, (fields, before))


def _organization_id(instance: models.Model) -> Any:
    return getattr(instance, "organization_id", None)


def _related_ids(instance: models.Model) -> tuple[Any, Any]:
    """(customer id, subscription id) the row belongs to, from its own columns or a relation
    already loaded on it (a wallet transaction's wallet): never a query."""
    meta = instance._meta
    if meta.label_lower == "customers.customer":
        return instance.pk, None
    if meta.label_lower == "subscriptions.subscription":
        return getattr(instance, "customer_id", None), instance.pk
    customer_id = getattr(instance, "customer_id", None)
    if customer_id is None:
        for parent in instance._state.fields_cache.values():
            customer_id = getattr(parent, "customer_id", None) if parent is not None else None
            if customer_id is not None:
                break
    return customer_id, getattr(instance, "subscription_id", None)


def _activity_fields(instance: models.Model, action: str, changes: dict[str, list[Any]]) -> dict[str, Any]:
    customer_id, subscription_id = _related_ids(instance)
    meta = instance._meta
    return {
        "activity_type": activity_type(meta.label_lower, meta.object_name or "", action, changes),
        "related_customer_id": customer_id,
        "related_subscription_id": subscription_id,
    }


def _entry(instance: models.Model, action: str, changes: dict[str, list[Any]]) -> Any:
    from django.contrib.contenttypes.models import ContentType

    from audit.models import AuditLogEntry

    actor = current_actor()
    organization_id = _organization_id(instance)
    try:
        object_repr = str(instance)[:255]
    except Exception:  # noqa: BLE001 — a __str__ touching a missing relation must not break the change
        object_repr = ""
    return AuditLogEntry(
        organization_id=organization_id,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label[:255],
        content_type=ContentType.objects.get_for_model(type(instance), for_concrete_model=True),
        object_id=str(instance.pk),
        object_repr=object_repr,
        action=action,
        changes=changes,
        ip_address=actor.ip,
        request_id=(actor.request_id or "")[:128],
        **_activity_fields(instance, action, changes),
    )


def _write(instance: models.Model, action: str, changes: dict[str, list[Any]]) -> None:
    insert_new(_entry(instance, action, changes))  # `.save()`, its INSERT composed once per process


def _created_changes(sender: type[models.Model], instance: models.Model) -> dict[str, list[Any]]:
    return {
        field.name: [None, _shown(field, getattr(instance, field.attname))]
        for field in _fields(sender)
        if getattr(instance, field.attname) not in (None, "")
    }


def _bulk_created(sender: type[models.Model], instances: list[models.Model], **kwargs: Any) -> None:
    """`billing_project.core.signals.bulk_created`: the "create" entry `post_save` would write for
    each row (same changes), all in one `COPY`; fields, content type and actor resolved once."""
    if not instances or sender not in _audited_set():
        return
    from django.contrib.contenttypes.models import ContentType

    from audit.models import AuditLogEntry

    # A loaded value is read from the instance's __dict__, as Django's attribute descriptors read it
    # (a file field's descriptor wraps it: read through it).
    fields = [
        (field.attname, field.name, _is_secret(field), not isinstance(field, models.FileField))
        for field in _fields(sender)
    ]
    content_type = ContentType.objects.get_for_model(sender, for_concrete_model=True)
    actor = current_actor()
    label, request_id = actor.label[:255], (actor.request_id or "")[:128]
    entries = []
    convert = _JSONABLE.get
    for instance in instances:
        changes = {}
        values = instance.__dict__
        for attname, name, secret, direct in fields:
            value = values[attname] if direct and attname in values else getattr(instance, attname)
            if value is None or value == "":
                continue
            if secret:
                changes[name] = [None, "***"]
            else:
                as_json = convert(type(value), to_jsonable)  # `to_jsonable`, by the value's exact type
                changes[name] = [None, value if as_json is None else as_json(value)]
        try:
            object_repr = str(instance)[:255]
        except Exception:  # noqa: BLE001 — as in _entry
            object_repr = ""
        entries.append(
            new_row(
                AuditLogEntry,
                organization_id=_organization_id(instance),
                actor_type=actor.type,
                actor_id=actor.id,
                actor_label=label,
                content_type=content_type,
                object_id=str(instance.pk),
                object_repr=object_repr,
                action="create",
                changes=changes,
                ip_address=actor.ip,
                request_id=request_id,
                **_activity_fields(instance, "create", changes),
            )
        )
    insert_rows(AuditLogEntry, entries)


def _bulk_updated(
    sender: type[models.Model], before: dict[Any, dict[str, Any]], instances: list[models.Model], **kwargs: Any
) -> None:
    """`billing_project.core.signals.bulk_updated`: the "update" entry `post_save` would write for
    each row that changed (the updated fields' before and after), all in one INSERT."""
    if not instances or sender not in _audited_set():
        return
    from audit.models import AuditLogEntry

    audited = {field.attname: field for field in _fields(sender)}
    entries = []
    for instance in instances:
        old_row = before.get(instance.pk) or {}
        changes = {}
        for attname, old in old_row.items():
            field = audited.get(attname)
            if field is None:
                continue
            old, new = _normalized(field, old), _normalized(field, getattr(instance, attname))
            if old != new:
                changes[field.name] = [_shown(field, old), _shown(field, new)]
        if changes:
            entries.append(_entry(instance, "update", changes))
    if entries:
        AuditLogEntry.objects.bulk_create(entries, batch_size=1000)


_AUDITED: set[type[models.Model]] = set()


def _audited_set() -> set[type[models.Model]]:
    if not _AUDITED:
        _AUDITED.update(audited_model_classes())
    return _AUDITED


def _post_save(
    sender: type[models.Model], instance: models.Model, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if raw:
        return
    state = _BEFORE.pop(instance)
    if created or state is None:
        _write(instance, "create", _created_changes(sender, instance))
        return
    fields, before = state
    if before is None:  # the row vanished meanwhile; record what was written
        before = {}
    changes = {}
    for field in fields:
        old = _normalized(field, before.get(field.attname))
        new = _normalized(field, getattr(instance, field.attname))
        if old != new:
            changes[field.name] = [_shown(field, old), _shown(field, new)]
    if changes:
        _write(instance, "update", changes)


def _post_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    changes = {
        field.name: [_shown(field, getattr(instance, field.attname)), None]
        for field in _fields(sender)
        if getattr(instance, field.attname) not in (None, "")
    }
    _write(instance, "delete", changes)


def connect_audited_models() -> None:
    from billing_project.core.signals import bulk_created, bulk_updated

    bulk_created.connect(_bulk_created, dispatch_uid="audit_bulk_created", weak=False)
    for model in audited_model_classes():
        uid = f"audit_{model._meta.label_lower}"
        pre_save.connect(_pre_save, sender=model, dispatch_uid=f"{uid}_pre", weak=False)
        post_save.connect(_post_save, sender=model, dispatch_uid=f"{uid}_post", weak=False)
        post_delete.connect(_post_delete, sender=model, dispatch_uid=f"{uid}_delete", weak=False)
        bulk_updated.connect(_bulk_updated, sender=model, dispatch_uid=f"{uid}_bulk_updated", weak=False)


def route_admin_history_to_audit_log() -> None:
    """The "History" button of an audited object's change page opens its audit log entries."""
    from django.contrib import admin
    from django.http import HttpResponseRedirect
    from django.urls import reverse
    from django.utils.http import urlencode

    def make_history_view(model_admin: admin.ModelAdmin) -> Any:
        original = model_admin.history_view

        def history_view(request: Any, object_id: str, extra_context: Any = None) -> Any:
            from audit.models import AuditLogEntry

            audit_admin = admin.site._registry.get(AuditLogEntry)
            if audit_admin is None or not audit_admin.has_view_permission(request):
                return original(request, object_id, extra_context)
            url = reverse("admin:audit_auditlogentry_changelist")
            return HttpResponseRedirect(f"{url}?{urlencode({'object_id': object_id})}")

        return history_view

    for model in audited_model_classes():
        model_admin = admin.site._registry.get(model)
        if model_admin is not None:
            model_admin.history_view = make_history_view(model_admin)  # type: ignore[method-assign]
