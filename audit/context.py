"""The edges that bind the actor (billing_project/core/actor.py holds the model and its state).

`AuditActorMiddleware` binds the current request, resolved lazily when the actor is asked for,
because DRF authenticates the API key inside the view (it sets `request.auth` on the underlying
Django request too). Celery tasks run as `system` with the task's name (`task_prerun` /
`task_postrun`). Anything else (a management command, a shell) is `system`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import Token
from typing import Any

from django.http import HttpRequest, HttpResponse

from billing_project.core.actor import (
    ACTOR_API_KEY,
    ACTOR_SYSTEM,
    ACTOR_USER,
    Actor,
    bind_request,
    current_actor,
    reset_actor,
    set_actor,
    unbind_request,
)
from billing_project.core.logging import get_request_id

__all__ = [
    "ACTOR_API_KEY",
    "ACTOR_SYSTEM",
    "ACTOR_USER",
    "Actor",
    "AuditActorMiddleware",
    "connect_celery_signals",
    "current_actor",
    "reset_actor",
    "set_actor",
]


class AuditActorMiddleware:
    """Binds the request so changes made while serving it are attributed to its user or API key."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tokens = bind_request(request)
        try:
            return self.get_response(request)
        finally:
            unbind_request(tokens)


_task_tokens: dict[str, Token] = {}


def _task_prerun(sender: Any = None, task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    name = getattr(task, "name", None) or getattr(sender, "name", None) or "task"
    token = set_actor(Actor(ACTOR_SYSTEM, id=task_id or "", label=f"task:{name}", request_id=get_request_id()))
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
