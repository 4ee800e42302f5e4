"""Typed input of the webhook endpoint services (billing_project/core/inputs.py: `UNSET` is "not sent")."""

from __future__ import annotations

from dataclasses import dataclass

from billing_project.core.inputs import UNSET, Fields, Unset


@dataclass(frozen=True)
class WebhookEndpointFields(Fields):
    """`POST /webhook_endpoints` (every field given) and `PUT /webhook_endpoints/{id}` (the fields
    sent change). `event_types` null or empty: every event type."""

    webhook_url: str | Unset | None = UNSET
    signature_algo: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    event_types: list[str] | Unset | None = UNSET
