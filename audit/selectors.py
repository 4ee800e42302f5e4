"""Reads of the audit trail as Lago's activity log (docs/audit.md, "Activity logs")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from audit.activity import SOURCES, resource_of
from audit.api_logs import body_value
from audit.models import ApiLogEntry, AuditLogEntry
from billing_project.core.api.shapes import DateTime, Uuid
from billing_project.core.found import found
from billing_project.core.lookup import uuid_or_not_found
from customers.models import Customer, Organization
from subscriptions.models import Subscription

_SOURCE_ACTORS = {source: actor for actor, source in SOURCES.items()}


class ActivityLogShape(TypedDict):
    activity_id: Uuid
    activity_type: str
    activity_source: str
    activity_object: dict[str, Any] | None
    activity_object_changes: dict[str, Any] | None
    user_email: str | None
    resource_id: str
    resource_type: str
    external_customer_id: str | None
    external_subscription_id: str | None
    organization_id: Uuid
    logged_at: DateTime
    created_at: DateTime


@dataclass(frozen=True)
class LoggedBetween:
    """The time window of a log's filters: [from_time, to_time), either end open when None."""

    from_time: dt.datetime | None = None
    to_time: dt.datetime | None = None

    def applied(self, rows: QuerySet, moment: str) -> QuerySet:
        """`rows` whose `moment` (a date-time field) falls in the window."""
        if self.from_time is not None:
            rows = rows.filter(**{f"{moment}__gte": self.from_time})
        if self.to_time is not None:
            rows = rows.filter(**{f"{moment}__lt": self.to_time})
        return rows


@dataclass(frozen=True)
class ActivityLogFilters(LoggedBetween):
    """GET /activity_logs's filters (audit entries by their `created_at`)."""

    activity_types: Sequence[str] = ()
    activity_sources: Sequence[str] = ()
    user_emails: Sequence[str] = ()
    external_customer_id: str | None = None
    external_subscription_id: str | None = None
    resource_ids: Sequence[str] = ()
    resource_types: Sequence[str] = ()


def _content_type_ids(resource_types: Sequence[str]) -> list[int]:
    from django.contrib.contenttypes.models import ContentType

    from audit.recorder import audited_model_classes

    wanted = set(resource_types)
    models = [
        model
        for model in audited_model_classes()
        if resource_of(model._meta.label_lower, model._meta.object_name or "")[1] in wanted
    ]
    return [ct.pk for ct in ContentType.objects.get_for_models(*models).values()] if models else []


def activity_log_list(organization: Organization, filters: ActivityLogFilters) -> QuerySet[AuditLogEntry]:
    """The organization's entries matching the filters, newest first."""
    entries = filters.applied(AuditLogEntry.objects.filter(organization=organization), "created_at")
    if filters.activity_types:
        entries = entries.filter(activity_type__in=filters.activity_types)
    if filters.activity_sources:
        entries = entries.filter(actor_type__in=[_SOURCE_ACTORS[source] for source in filters.activity_sources])
    if filters.user_emails:
        user_ids = get_user_model().objects.filter(email__in=filters.user_emails).values_list("pk", flat=True)
        entries = entries.filter(actor_type="user", actor_id__in=[str(pk) for pk in user_ids])
    if filters.external_customer_id:
        customer_ids = Customer.objects.filter(
            organization=organization, external_id=filters.external_customer_id
        ).values_list("pk", flat=True)
        entries = entries.filter(related_customer_id__in=list(customer_ids))
    if filters.external_subscription_id:
        subscription_ids = Subscription.objects.filter(
            organization=organization, external_id=filters.external_subscription_id
        ).values_list("pk", flat=True)
        entries = entries.filter(related_subscription_id__in=list(subscription_ids))
    if filters.resource_ids:
        entries = entries.filter(object_id__in=filters.resource_ids)
    if filters.resource_types:
        entries = entries.filter(content_type_id__in=_content_type_ids(filters.resource_types))
    return entries.select_related("content_type").order_by("-created_at", "-id")


def activity_log_get(organization: Organization, activity_id: str) -> AuditLogEntry:
    key = uuid_or_not_found(activity_id, "activity_log")
    return found(
        AuditLogEntry.objects.select_related("content_type").filter(organization=organization, pk=key).first(),
        "activity_log",
    )


def _objects(entries: Sequence[AuditLogEntry]) -> dict[Any, dict[str, Any]]:
    """Each entry's object as it was after the entry: its history replayed (`audit.activity.replay`),
    in one query for the page."""
    from audit.activity import replay

    if not entries:
        return {}
    latest = max(entry.created_at for entry in entries)
    condition = Q()
    for content_type_id, object_id in {(entry.content_type_id, entry.object_id) for entry in entries}:
        condition |= Q(content_type_id=content_type_id, object_id=object_id)
    history: dict[tuple[int, str], list[tuple[Any, dt.datetime, str, dict[str, Any]]]] = {}
    rows = (
        AuditLogEntry.objects.filter(condition, organization=entries[0].organization_id, created_at__lte=latest)
        .order_by("created_at", "id")
        .values_list("pk", "content_type_id", "object_id", "created_at", "action", "changes")
    )
    for pk, content_type_id, object_id, created_at, action, changes in rows:
        history.setdefault((content_type_id, object_id), []).append((pk, created_at, action, changes or {}))
    objects = {}
    for entry in entries:
        steps = history.get((entry.content_type_id, entry.object_id), [])
        until = next((index for index, step in enumerate(steps) if step[0] == entry.pk), len(steps) - 1)
        objects[entry.pk] = replay([(action, changes) for _, _, action, changes in steps[: until + 1]])
    return objects


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def activity_logs_render(entries: Iterable[AuditLogEntry]) -> list[ActivityLogShape]:
    """The page's entries in Lago's shape; emails, external ids and objects read once per page."""
    page = list(entries)
    user_ids = {entry.actor_id for entry in page if entry.actor_type == "user" and entry.actor_id.isdigit()}
    emails = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "email")) if user_ids else {}
    customer_ids = {entry.related_customer_id for entry in page if entry.related_customer_id}
    customers: dict[Any, str] = (
        dict(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "external_id")) if customer_ids else {}
    )
    subscription_ids = {entry.related_subscription_id for entry in page if entry.related_subscription_id}
    subscriptions: dict[Any, str] = (
        dict(Subscription.objects.filter(pk__in=subscription_ids).values_list("pk", "external_id"))
        if subscription_ids
        else {}
    )
    objects = _objects(page)
    rendered: list[ActivityLogShape] = []
    for entry in page:
        model = entry.content_type.model_class()
        label = entry.content_type.app_label + "." + entry.content_type.model
        _, resource_type = resource_of(label, model.__name__ if model is not None else entry.content_type.model)
        email = emails.get(int(entry.actor_id)) if entry.actor_type == "user" and entry.actor_id.isdigit() else None
        rendered.append(
            {
                "activity_id": str(entry.pk),
                "activity_type": entry.activity_type,
                "activity_source": SOURCES.get(entry.actor_type, "system"),
                "activity_object": objects.get(entry.pk),
                "activity_object_changes": entry.changes if entry.action == "update" else {},
                "user_email": email or None,
                "resource_id": entry.object_id,
                "resource_type": resource_type,
                "external_customer_id": customers.get(entry.related_customer_id),
                "external_subscription_id": subscriptions.get(entry.related_subscription_id),
                "organization_id": str(entry.organization_id),
                "logged_at": _time(entry.created_at),
                "created_at": _time(entry.created_at),
            }
        )
    return rendered


# --- API logs ----------------------------------------------------------------------------------


class ApiLogShape(TypedDict):
    request_id: Uuid
    client: str
    http_method: str
    http_status: int
    request_origin: str
    request_path: str
    request_body: dict[str, Any]
    request_response: dict[str, Any] | None
    api_version: str
    api_key_prefix: str
    duration_ms: str
    logged_at: DateTime
    created_at: DateTime


@dataclass(frozen=True)
class ApiLogFilters(LoggedBetween):
    http_methods: Sequence[str] = ()
    http_statuses: Sequence[str] = ()  # "succeeded", "failed" or a code
    api_version: str | None = None
    request_paths: Sequence[str] = ()  # exact, or with * as a wildcard
    clients: Sequence[str] = ()
    api_key_ids: Sequence[str] = ()
    request_ids: Sequence[str] = ()


def _path_condition(pattern: str) -> Q:
    if "*" not in pattern:
        return Q(request_path=pattern)
    parts = pattern.split("*")
    condition = Q()
    if parts[0]:
        condition &= Q(request_path__startswith=parts[0])
    if parts[-1]:
        condition &= Q(request_path__endswith=parts[-1])
    for middle in parts[1:-1]:
        if middle:
            condition &= Q(request_path__contains=middle)
    return condition


def api_log_list(organization: Organization, filters: ApiLogFilters) -> QuerySet[ApiLogEntry]:
    """The organization's API requests matching the filters, newest first."""
    logs = filters.applied(ApiLogEntry.objects.filter(organization=organization), "logged_at")
    if filters.http_methods:
        logs = logs.filter(http_method__in=filters.http_methods)
    if filters.http_statuses:
        condition = Q()
        codes = [int(value) for value in filters.http_statuses if value.isdigit()]
        if codes:
            condition |= Q(http_status__in=codes)
        if "succeeded" in filters.http_statuses:
            condition |= Q(http_status__lt=400)
        if "failed" in filters.http_statuses:
            condition |= Q(http_status__gte=400)
        logs = logs.filter(condition)
    if filters.api_version:
        logs = logs.filter(api_version=filters.api_version)
    if filters.request_paths:
        condition = Q()
        for pattern in filters.request_paths:
            condition |= _path_condition(pattern)
        logs = logs.filter(condition)
    if filters.clients:
        logs = logs.filter(client__in=filters.clients)
    if filters.api_key_ids:
        logs = logs.filter(api_key_id__in=filters.api_key_ids)
    if filters.request_ids:
        logs = logs.filter(pk__in=filters.request_ids)
    return logs.order_by("-logged_at", "-id")


def api_log_get(organization: Organization, request_id: str) -> ApiLogEntry:
    key = uuid_or_not_found(request_id, "api_log")
    return found(
        ApiLogEntry.objects.filter(organization=organization, pk=key).first(),
        "api_log",
    )


def _milliseconds(microseconds: int) -> str:
    return str(Decimal(microseconds) / 1000)


def api_logs_render(logs: Iterable[ApiLogEntry]) -> list[ApiLogShape]:
    return [
        {
            "request_id": str(log.pk),
            "client": log.client,
            "http_method": log.http_method,
            "http_status": log.http_status,
            "request_origin": log.request_origin,
            "request_path": log.request_path,
            "request_body": body_value(log.request_body) or {},
            "request_response": body_value(log.request_response),
            "api_version": log.api_version,
            "api_key_prefix": log.api_key_prefix,
            "duration_ms": _milliseconds(log.duration_us),
            "logged_at": _time(log.logged_at),
            "created_at": _time(log.created_at),
        }
        for log in logs
    ]
