"""`Idempotency-Key` on state-changing requests (checkout REST binding, signatures' replay
protection): the answer to a key is kept 48 hours; the same key with the same request gets the
same answer without running again, with another request a 409. Only answers that carry a
resource are kept: a refused request stores nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from ucp.http import json_response
from ucp.models import IdempotencyRecord, UcpSettings
from ucp.protocol import UcpError

KEEP = dt.timedelta(hours=48)


def _hash(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update((request.method or "").encode() + b" " + request.path.encode() + b"\n")
    digest.update(request.body)
    return digest.hexdigest()


def run(
    request: HttpRequest, settings: UcpSettings, profile_url: str, handler: Callable[[], HttpResponse]
) -> HttpResponse:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return handler()
    if len(key) > 255:
        raise UcpError(400, "invalid_request", "Idempotency-Key is too long")
    request_hash = _hash(request)
    scope = f"{request.method} {request.path}"
    lookup = {"organization_id": settings.organization_id, "platform_profile_url": profile_url, "key": key}
    existing = IdempotencyRecord.objects.filter(**lookup, created_at__gte=timezone.now() - KEEP).first()
    if existing is None:
        IdempotencyRecord.objects.filter(**lookup).delete()  # an expired record frees its key
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(**lookup, scope=scope, request_hash=request_hash)
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(**lookup).first()
            if existing is None:
                raise UcpError(409, "idempotency_conflict", "This Idempotency-Key is being used") from None
    if existing is not None:
        if existing.request_hash != request_hash or existing.scope != scope:
            raise UcpError(409, "idempotency_conflict", "This Idempotency-Key was used with another request")
        if existing.status_code is None:
            raise UcpError(409, "idempotency_conflict", "A request with this Idempotency-Key is still running")
        return json_response(existing.response_body, existing.status_code)
    try:
        response = handler()
    except BaseException:
        IdempotencyRecord.objects.filter(id=record.id).delete()
        raise
    body = json.loads(response.content) if response.get("Content-Type", "").startswith("application/json") else None
    keeps = isinstance(body, dict) and (body.get("ucp") or {}).get("status") != "error"
    if 200 <= response.status_code < 300 and keeps:
        IdempotencyRecord.objects.filter(id=record.id).update(status_code=response.status_code, response_body=body)
    else:
        IdempotencyRecord.objects.filter(id=record.id).delete()
    return response


def purge(now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=now - KEEP).delete()
    return deleted
