"""The subscription state machine, in one place. Pure: no ORM, no side effects.

    pending ──activate──▶ active ──terminate──▶ terminated
       │
       └──cancel──▶ canceled

`terminated` and `canceled` are final. Services call `target_status(current, event)` under a row
lock before they change anything; a refused transition is Lago's 405 `invalid_status`
(docs/lago-compatibility.md §1.5).
"""

from __future__ import annotations

from enum import StrEnum

from billing_project.core.errors import NotAllowedFailure


class Status(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    TERMINATED = "terminated"
    CANCELED = "canceled"


class Event(StrEnum):
    ACTIVATE = "activate"
    TERMINATE = "terminate"
    CANCEL = "cancel"


TRANSITIONS: dict[Event, tuple[frozenset[Status], Status]] = {
    Event.ACTIVATE: (frozenset({Status.PENDING}), Status.ACTIVE),
    Event.TERMINATE: (frozenset({Status.ACTIVE}), Status.TERMINATED),
    Event.CANCEL: (frozenset({Status.PENDING}), Status.CANCELED),
}

FINAL_STATUSES = frozenset({Status.TERMINATED, Status.CANCELED})
REFUSED_CODE = "invalid_status"


def allowed(current: str, event: Event | str) -> bool:
    sources, _ = TRANSITIONS[Event(event)]
    return Status(current) in sources


def target_status(current: str, event: Event | str) -> Status:
    """The state `event` leads to from `current`; NotAllowedFailure when the machine refuses it."""
    if not allowed(current, event):
        raise NotAllowedFailure(REFUSED_CODE)
    return TRANSITIONS[Event(event)][1]


def events_from(current: str) -> list[Event]:
    """The events the machine accepts in `current` (for the admin's action lists)."""
    return [event for event in Event if allowed(current, event)]
