"""Who is acting right now: a staff user, an API key, or the system (a task or a command).

The actor lives in a `ContextVar`. `AuditActorMiddleware` binds the current request, resolved
lazily when a change is recorded, because DRF authenticates the API key inside the view
(it sets `request.auth` on the underlying Django request too). Celery tasks run as
`system` with the task's name (`task_prerun` / `task_postrun`). Anything else (a management
command, a shell) is `system`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from billing_project.core.logging import get_request_id

ACTOR_USER = "user"
ACTOR_API_KEY = "api_key"
ACTOR_SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    label: str = "system"
    organization_id: Any = None
    ip: str | None = None
    request_id: str | None = None


_request: ContextVar[HttpRequest | None] = ContextVar("bxb_audit_request", default=None)
_actor: ContextVar[Actor | None] = ContextVar("bxb_audit_actor", default=None)


def set_actor(actor: Actor | None) -> Token:
    """Bind an explicit actor (tasks, commands, tests); returns a token for `reset_actor`."""
    return _actor.set(actor)


def reset_actor(token: Token) -> None:
    try:
        _actor.reset(token)
    except ValueError:
        _actor.set(None)


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _actor_for_request(request: HttpRequest) -> Actor:
    ip = _client_ip(request)
    request_id = getattr(request, "request_id", None) or get_request_id()
    api_key = getattr(request, "auth", None)
    if api_key is not None and hasattr(api_key, "prefix") and hasattr(api_key, "organization_id"):
        return Actor(
            ACTOR_API_KEY,
            id=str(api_key.pk),
            label=f"api_key:{api_key.prefix}",
            organization_id=api_key.organization_id,
            ip=ip,
            request_id=request_id,
        )
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return Actor(ACTOR_USER, id=str(user.pk), label=user.get_username(), ip=ip, request_id=request_id)
    return Actor(ACTOR_SYSTEM, label="anonymous request", ip=ip, request_id=request_id)


def current_actor() -> Actor:
    """The explicit actor if one is bound, else the current request's, else `system`."""
    actor = _actor.get()
    if actor is not None:
        return actor
    request = _request.get()
    if request is not None:
        return _actor_for_request(request)
    return Actor(ACTOR_SYSTEM, label="system", request_id=get_request_id())


class AuditActorMiddleware:
    """Binds the request so changes made while serving it are attributed to its user or API key."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_token = _request.set(request)
        actor_token = _actor.set(None)
        try:
            return self.get_response(request)
        finally:
            reset_actor(actor_token)
            try:
                _request.reset(request_token)
            except ValueError:
                _request.set(None)


_task_tokens: dict[str, Token] = {}


def _task_prerun(sender: Any = None, task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    name = getattr(task, "name", None) or getattr(sender, "name", None) or "task"
    token = _actor.set(Actor(ACTOR_SYSTEM, id=task_id or "", label=f"task:{name}", request_id=get_request_id()))
    if task_id:
        _task_tokens[task_id] = token


def _task_postrun(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    token = _task_tokens.pop(task_id or "", None)
    if token is not None:
        reset_actor(token)


def connect_celery_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_prerun, dispatch_uid="audit_task_prerun", weak=False)
    task_postrun.connect(_task_postrun, dispatch_uid="audit_task_postrun", weak=False)
