"""Lago's activity logs and API logs (docs/audit.md). Views parse, call a selector, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from audit import selectors
from audit.api import filters
from audit.selectors import ActivityLogShape
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
