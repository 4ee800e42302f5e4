"""Lago's activity logs and API logs (docs/audit.md). Views parse, call a selector, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from audit import selectors
from audit.api import filters
from audit.selectors import ActivityLogShape, ApiLogShape
from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.serializers import envelope, list_envelope
from billing_project.core.api.shapes import schema_serializer
from billing_project.core.api.views import OrganizationAPIView

ActivityLogOutput = schema_serializer(ActivityLogShape)
ActivityLogEnvelope = envelope("ActivityLogEnvelope", "activity_log", ActivityLogOutput)
ActivityLogListEnvelope = list_envelope("ActivityLogListEnvelope", "activity_logs", ActivityLogOutput)


class ActivityLogCollectionView(OrganizationAPIView):
    resource_name = "activity_log"

    @extend_schema(
        operation_id="activity_logs_list",
        summary="List activity logs (the audit trail in Lago's shape, newest first)",
        parameters=filters.ActivityLogFilters.schema_parameters(),
        responses=ActivityLogListEnvelope,
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
        return paginated_response(request, entries, "activity_logs", selectors.activity_logs_render)


class ActivityLogDetailView(OrganizationAPIView):
    resource_name = "activity_log"

    @extend_schema(operation_id="activity_logs_retrieve", summary="Find an activity log", responses=ActivityLogEnvelope)
    def get(self, request: Request, activity_id: str) -> Response:
        entry = selectors.activity_log_get(self.organization, activity_id)
        return Response({"activity_log": selectors.activity_logs_render([entry])[0]})


ApiLogOutput = schema_serializer(ApiLogShape)
ApiLogEnvelope = envelope("ApiLogEnvelope", "api_log", ApiLogOutput)
ApiLogListEnvelope = list_envelope("ApiLogListEnvelope", "api_logs", ApiLogOutput)


class ApiLogCollectionView(OrganizationAPIView):
    resource_name = "api_log"

    @extend_schema(
        operation_id="api_logs_list",
        summary="List API requests (newest first)",
        parameters=filters.ApiLogFilters.schema_parameters(),
        responses=ApiLogListEnvelope,
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
        return paginated_response(request, logs, "api_logs", selectors.api_logs_render)


class ApiLogDetailView(OrganizationAPIView):
    resource_name = "api_log"

    @extend_schema(operation_id="api_logs_retrieve", summary="Find an API request", responses=ApiLogEnvelope)
    def get(self, request: Request, request_id: str) -> Response:
        log = selectors.api_log_get(self.organization, request_id)
        return Response({"api_log": selectors.api_logs_render([log])[0]})
