"""Who is acting right now: a staff user, an API key, or the system (a task, a command, a job).

bxb has one actor model, the ambient actor: the actor is bound once, at the edge of each unit of
work, and everything done inside it is attributed to it. No service takes an `actor` argument.

* A request: `audit.context.AuditActorMiddleware` binds it; the actor is resolved when asked,
  because DRF authenticates the API key inside the view (it sets `request.auth` on the Django
  request too): the API key, else the signed-in staff user.
* A Celery task: `system` with the task's name (`task:<name>`), bound around the task.
* Anything else (a command, a shell, a test) is `system`, unless code binds an actor with
  `acting_as(Actor(...))` (a command, a page that acts for someone who is not signed in).

The audit trail (docs/audit.md) reads it when it records a change; domain records that name who
acted (`SubscriptionTransition.actor`, `Payment.actor`) store `current_actor().trail_label`.
This module is the kernel's: it imports no app, so every app may read the actor.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

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

    @property
    def trail_label(self) -> str:
        """How a domain record names the actor: `api_key:<prefix>`, `user:<username>`, or the
        system's label (`task:<name>`, `system`, `command:<name>`, `portal:<customer id>`)."""
        return f"user:{self.label}" if self.type == ACTOR_USER else self.label


_request: ContextVar[HttpRequest | None] = ContextVar("bxb_actor_request", default=None)
_actor: ContextVar[Actor | None] = ContextVar("bxb_actor", default=None)


def set_actor(actor: Actor | None) -> Token:
    """Bind an explicit actor (tasks, commands, tests); returns a token for `reset_actor`."""
    return _actor.set(actor)


def reset_actor(token: Token) -> None:
    try:
        _actor.reset(token)
    except ValueError:
        _actor.set(None)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Everything done inside the block is `actor`'s."""
    token = set_actor(actor)
    try:
        yield actor
    finally:
        reset_actor(token)


def bind_request(request: HttpRequest | None) -> tuple[Token, Token]:
    """Attribute what is done while serving `request` to its API key or user (the middleware's edge)."""
    return _request.set(request), _actor.set(None)


def unbind_request(tokens: tuple[Token, Token]) -> None:
    request_token, actor_token = tokens
    reset_actor(actor_token)
    try:
        _request.reset(request_token)
    except ValueError:
        _request.set(None)


def _actor_for_request(request: HttpRequest) -> Actor:
    ip = request.META.get("REMOTE_ADDR") or None
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
