"""Lago's activity logs and API logs (docs/audit.md). Views parse, call a selector, render."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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


class _LogView(ResourceView):
    # `render_page`: the selector rendering a page of logs, its lookups made once for the page.
    render_page: Callable[[Iterable[Any]], list[Any]]

    def render_many(self, items: Iterable[Any]) -> Any:
        return self.render_page(items)

    def render(self, log: Any) -> Any:  # type: ignore[override]
        return self.render_page([log])[0]


class ActivityLogView(_LogView):
    resource_name = "activity_log"
    render_page = staticmethod(selectors.activity_logs_render)


class ActivityLogCollectionView(ActivityLogView):
    @endpoint("activity_logs_list", ActivityLogListEnvelope, parameters=filters.ActivityLogFilters.schema_parameters())
    def get(self, request: Request) -> Response:
        """List activity logs (the audit trail in Lago's shape, newest first)"""
        wanted = filters.ActivityLogFilters.selector_filters(request, selectors.ActivityLogFilters)
        return self.page(request, selectors.activity_log_list(self.organization, wanted))


class ActivityLogDetailView(ActivityLogView):
    @endpoint("activity_logs_retrieve", ActivityLogEnvelope)
    def get(self, request: Request, activity_id: str) -> Response:
        """Find an activity log"""
        return self.one(selectors.activity_log_get(self.organization, activity_id))


class ApiLogView(_LogView):
    resource_name = "api_log"
    render_page = staticmethod(selectors.api_logs_render)


class ApiLogCollectionView(ApiLogView):
    @endpoint("api_logs_list", ApiLogListEnvelope, parameters=filters.ApiLogFilters.schema_parameters())
    def get(self, request: Request) -> Response:
        """List API requests (newest first)"""
        wanted = filters.ApiLogFilters.selector_filters(request, selectors.ApiLogFilters)
        return self.page(request, selectors.api_log_list(self.organization, wanted))


class ApiLogDetailView(ApiLogView):
    @endpoint("api_logs_retrieve", ApiLogEnvelope)
    def get(self, request: Request, request_id: str) -> Response:
        """Find an API request"""
        return self.one(selectors.api_log_get(self.organization, request_id))
