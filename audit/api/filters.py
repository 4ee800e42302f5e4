"""Query parameters of the activity and API logs (billing_project/core/api/filters.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from rest_framework.request import Request

from audit.activity import ACTIVITY_SOURCES
from billing_project.core.api.filters import DateTimeFilter, LagoFilterSet, ListFilter, TextFilter
from billing_project.core.errors import ValidationFailure

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
T = TypeVar("T")


class _LoggedBetween(LagoFilterSet):
    from_date = DateTimeFilter(help_text="logged at or after (a date is its first instant, UTC)")
    to_date = DateTimeFilter(help_text="logged at or before (a date includes the whole day, UTC)")

    @classmethod
    def window(cls, request: Request, params: dict[str, Any]) -> tuple[dt.datetime | None, dt.datetime | None]:
        """[from, to) of the parsed `from_date`/`to_date`: a plain date as `to_date` covers its day."""
        start, end = params.get("from_date"), params.get("to_date")
        if end is not None:
            text = str(request.query_params.get("to_date", "")).strip()
            end = end + (dt.timedelta(days=1) if len(text) == 10 else dt.timedelta(microseconds=1))
        return start, end

    @classmethod
    def selector_filters(cls, request: Request, filters_class: Callable[..., T]) -> T:
        """The parsed parameters as the selector's frozen `filters_class`: `from_time`/`to_time` the
        window, every other field the parameter of its name (an absent list as `()`)."""
        params = cls.parse(request)
        start, end = cls.window(request, params)
        values = {
            field.name: params[field.name] or () if field.default == () else params[field.name]
            for field in dataclasses.fields(filters_class)  # type: ignore[arg-type]
            if field.name not in ("from_time", "to_time")
        }
        return filters_class(from_time=start, to_time=end, **values)


class ActivityLogFilters(_LoggedBetween):
    activity_types = ListFilter(help_text="e.g. billable_metric.created")
    activity_sources = ListFilter(choices=ACTIVITY_SOURCES)
    user_emails = ListFilter()
    external_customer_id = TextFilter()
    external_subscription_id = TextFilter()
    resource_ids = ListFilter(help_text="ids (UUID) of the changed objects")
    resource_types = ListFilter(help_text="e.g. BillableMetric, Invoice")

    @classmethod
    def parse(cls, request: Request) -> dict[str, Any]:
        params = super().parse(request)
        for value in params.get("resource_ids") or []:
            try:
                uuid.UUID(value)
            except ValueError:
                raise ValidationFailure({"resource_ids": ["value_is_invalid"]}) from None
        return params


class ApiLogFilters(_LoggedBetween):
    http_methods = ListFilter(choices=HTTP_METHODS)
    http_statuses = ListFilter(help_text="succeeded (below 400), failed (400 and above) or a status code")
    api_version = TextFilter()
    request_paths = ListFilter(help_text="exact paths, or patterns with * (e.g. /api/v1/customers*)")
    clients = ListFilter()
    api_key_ids = ListFilter()
    request_ids = ListFilter()

    @classmethod
    def parse(cls, request: Request) -> dict[str, Any]:
        params = super().parse(request)
        for value in params.get("http_statuses") or []:
            if value not in ("succeeded", "failed") and not (value.isdigit() and 100 <= int(value) <= 599):
                raise ValidationFailure({"http_statuses": ["value_is_invalid"]})
        for name in ("api_key_ids", "request_ids"):
            for value in params.get(name) or []:
                try:
                    uuid.UUID(value)
                except ValueError:
                    raise ValidationFailure({name: ["value_is_invalid"]}) from None
        return params
