"""Typed inputs of the alert services (billing_project/core/inputs.py: `UNSET` is "not sent").

The API builds them from `AlertInput`'s validated data (`usage_monitoring/api/serializers.py`);
the services keep the alert rules (types, threshold values, duplicates) and their Lago codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from billing_project.core.inputs import UNSET, Unset, from_validated, nested_items


@dataclass(frozen=True)
class AlertThresholdFields:
    """A threshold: `value` as sent (decimal text; amounts in cents), checked by the service."""

    value: str | None = None
    code: str | None = None
    recurring: bool | None = None


@dataclass(frozen=True)
class AlertFields:
    """An alert of `POST/PUT .../alerts` (or one item of the `alerts` batch). On update only the
    fields sent change; `thresholds` is replaced as a whole."""

    alert_type: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    billable_metric_code: str | Unset | None = UNSET
    thresholds: tuple[AlertThresholdFields, ...] | Unset | None = UNSET

    @classmethod
    def from_validated(cls, data: Mapping[str, Any]) -> AlertFields:
        return from_validated(
            cls, data, thresholds=nested_items(data, "thresholds", partial(from_validated, AlertThresholdFields))
        )
