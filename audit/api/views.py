"""Lago's activity logs and API logs (docs/audit.md). Views parse, call a selector, render."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from audit import selectors
from audit.api import filters
from audit.selectors import ActivityLogShape, ApiLogShape
from billing_project.core.api.resources import ResourceView, endpoint
from billing_project.core.api.serializers import envelope, list_envelope
from billing_project.core.api.shapes import schema_serializer

ActivityLogOutput = schema_serializer(ActivityLogShape)
ActivityLogEnvelope = envelope("ActivityLogEnvelope", "activity_log", ActivityLogOutput)
ActivityLogListEnvelope = list_envelope("ActivityLogListEnvelope", "activity_logs", ActivityLogOutput)
ApiLogOutput = schema_serializer(ApiLogShape)
ApiLogEnvelope = envelope("ApiLogEnvelope", "api_log", ApiLogOutput)
ApiLogListEnvelope = list_envelope("ApiLogListEnvelope", "api_logs", ApiLogOutput)


class ActivityLogView(ResourceView):
    resource_name = "activity_log"

    def render_many(self, items: Iterable[Any]) -> Any:  # a page's lookups made once
        return selectors.activity_logs_render(items)

    @staticmethod
    def render(entry: Any) -> ActivityLogShape:
        return selectors.activity_logs_render([entry])[0]


class ActivityLogCollectionView(ActivityLogView):
    @endpoint(
        "activity_logs_list",
        "List activity logs (the audit trail in Lago's shape, newest first)",
        ActivityLogListEnvelope,
        parameters=filters.ActivityLogFilters.schema_parameters(),
    )
    def get(self, request: Request) -> Response:
        params = filters.ActivityLogFilters.parse(request)
        start, end = filters.ActivityLogFilters.window(request, params)
        entries = selectors.activity_log_list(
            self.organization,
            selectors.ActivityLogFilters(
                from_time=start,
                to_time=end,
                activity_types=params["activity_types"] or (),
                activity_sources=params["activity_sources"] or (),
                user_emails=params["user_emails"] or (),
                external_customer_id=params["external_customer_id"],
                external_subscription_id=params["external_subscription_id"],
                resource_ids=params["resource_ids"] or (),
                resource_types=params["resource_types"] or (),
            ),
        )
        return self.page(request, entries)


class ActivityLogDetailView(ActivityLogView):
    @endpoint("activity_logs_retrieve", "Find an activity log", ActivityLogEnvelope)
    def get(self, request: Request, activity_id: str) -> Response:
        return self.one(selectors.activity_log_get(self.organization, activity_id))


class ApiLogView(ResourceView):
    resource_name = "api_log"

    def render_many(self, items: Iterable[Any]) -> Any:
        return selectors.api_logs_render(items)

    @staticmethod
    def render(log: Any) -> ApiLogShape:
        return selectors.api_logs_render([log])[0]


class ApiLogCollectionView(ApiLogView):
    @endpoint(
        "api_logs_list",
        "List API requests (newest first)",
        ApiLogListEnvelope,
        parameters=filters.ApiLogFilters.schema_parameters(),
    )
    def get(self, request: Request) -> Response:
        params = filters.ApiLogFilters.parse(request)
        start, end = filters.ApiLogFilters.window(request, params)
        logs = selectors.api_log_list(
            self.organization,
            selectors.ApiLogFilters(
                from_time=start,
                to_time=end,
                http_methods=params["http_methods"] or (),
                http_statuses=params["http_statuses"] or (),
                api_version=params["api_version"],
                request_paths=params["request_paths"] or (),
                clients=params["clients"] or (),
                api_key_ids=params["api_key_ids"] or (),
                request_ids=params["request_ids"] or (),
            ),
        )
        return self.page(request, logs)


class ApiLogDetailView(ApiLogView):
    @endpoint("api_logs_retrieve", "Find an API request", ApiLogEnvelope)
    def get(self, request: Request, request_id: str) -> Response:
        return self.one(selectors.api_log_get(self.organization, request_id))
