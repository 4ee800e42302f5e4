"""Reads of the webhooks app. Every query takes the organization first."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from billing_project.core.found import found
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookSigningKey


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def webhook_endpoint_list(organization: Any) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization_id=organization.pk).order_by("-created_at", "id")


def endpoints_exist(organization_ref: Any = None) -> Exists:
    """`EXISTS` over the organization's webhook endpoints, to fold into a statement the caller makes
    anyway (`organization_ref`: an expression for the organization id, `OuterRef("organization_id")`
    by default). Its answer goes to `webhook_send(..., endpoints_exist=...)`, which then skips its
    own endpoint read when the organization has none (the common case)."""
    return Exists(
        WebhookEndpoint.objects.filter(
            organization_id=OuterRef("organization_id") if organization_ref is None else organization_ref
        )
    )


def endpoints_exist_sql(organization_id_sql: str) -> str:
    """The same `EXISTS` as SQL text, for a raw statement: `organization_id_sql` is the (quoted)
    column or expression holding the organization id in that statement."""
    quote = connection.ops.quote_name
    table = quote(WebhookEndpoint._meta.db_table)
    column = quote(WebhookEndpoint._meta.get_field("organization").column)
    return f"EXISTS (SELECT 1 FROM {table} WHERE {table}.{column} = {organization_id_sql})"  # noqa: S608 - identifiers from the models and the caller


def webhook_endpoint_get(organization: Any, lago_id: Any) -> WebhookEndpoint:
    pk = _uuid(lago_id)
    return found(
        webhook_endpoint_list(organization).filter(pk=pk).first() if pk else None,
        "webhook_endpoint",
    )


def webhook_public_key(organization: Any) -> WebhookSigningKey | None:
    return WebhookSigningKey.objects.filter(organization_id=organization.pk).first()


def webhook_delivery_list(
    organization: Any,
    *,
    statuses: Iterable[str] = (),
    webhook_types: Iterable[str] = (),
    endpoint_id: str | None = None,
) -> QuerySet[WebhookDelivery]:
    qs = WebhookDelivery.objects.filter(organization_id=organization.pk).select_related("endpoint")
    statuses = [status for status in statuses if status]
    if statuses:
        qs = qs.filter(status__in=statuses)
    webhook_types = [webhook_type for webhook_type in webhook_types if webhook_type]
    if webhook_types:
        qs = qs.filter(webhook_type__in=webhook_types)
    if endpoint_id:
        pk = _uuid(endpoint_id)
        qs = qs.filter(endpoint_id=pk) if pk else qs.none()
    return qs.order_by("-created_at", "id")


def webhook_delivery_get(organization: Any, lago_id: Any) -> WebhookDelivery:
    pk = _uuid(lago_id)
    return found(
        WebhookDelivery.objects.filter(organization_id=organization.pk, pk=pk)
        .select_related("endpoint")
        .prefetch_related("attempts")
        .first()
        if pk
        else None,
        "webhook",
    )


def webhook_deliveries_due(now: datetime, *, limit: int = 500) -> list[str]:
    """Ids of pending deliveries whose next attempt is due and that no worker holds.

    This is the one cross-tenant read: the sweeper works for every organization.
    """
    return [
        str(pk)
        for pk in WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    ]


def webhook_deliveries_failed(
    *,
    organization: Any = None,
    endpoint: Any = None,
    webhook_type: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> QuerySet[WebhookDelivery]:
    """Failed deliveries (the dead letter) whose endpoint still exists, oldest first, for ops
    (`manage.py retry_webhooks`); every organization unless one is given."""
    failed = WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED, endpoint__isnull=False)
    if organization is not None:
        failed = failed.filter(organization=organization)
    if endpoint is not None:
        failed = failed.filter(endpoint=endpoint)
    if webhook_type:
        failed = failed.filter(webhook_type=webhook_type)
    if since is not None:
        failed = failed.filter(created_at__gte=since)
    failed = failed.order_by("created_at", "id")
    return failed[:limit] if limit else failed
