"""Typed input of the webhook endpoint services (billing_project/core/inputs.py: `UNSET` is "not sent")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from billing_project.core.inputs import UNSET, Unset, from_validated


@dataclass(frozen=True)
class WebhookEndpointFields:
    """`POST /webhook_endpoints` (every field given) and `PUT /webhook_endpoints/{id}` (the fields
    sent change). `event_types` null or empty: every event type."""

    webhook_url: str | Unset | None = UNSET
    signature_algo: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    event_types: list[str] | Unset | None = UNSET

    @classmethod
    def from_validated(cls, data: Mapping[str, Any]) -> WebhookEndpointFields:
        return from_validated(cls, data)
