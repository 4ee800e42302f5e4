"""Events endpoints. Views parse, rate-limit, call a service, and render."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import page_params, paginated_response
from billing_project.core.api.resources import endpoint
from billing_project.core.api.views import OrganizationAPIView, root_payload
from billing_project.core.errors import BadRequestFailure
from metering import ingestion, ratelimit, selectors, services
from metering.api import filters
from metering.api.parsers import BatchJSONParser
from metering.api.serializers import (
    EstimateEventBatchInput,
    EstimateEventInputEnvelope,
    EventBatchInput,
    EventBatchOutput,
    EventDetailEnvelope,
    EventEnvelope,
    EventErrorListEnvelope,
    EventInputEnvelope,
    EventListEnvelope,
    FeeEstimateListOutput,
    duplicate_dict,
    event_detail_dict,
    event_dict,
    event_error_dict,
    event_page_meta,
    fee_estimate_dict,
    ingested_event_dict,
    iso_ms,
)
from metering.store.base import EventListFilters


def _rate_limit(organization: Any, cost: int) -> dict[str, str]:
    return _enforce(ratelimit.consume(organization.id, cost))


def _single_event_rate_limit(request: HttpRequest, organization: Any) -> dict[str, str]:
    """The events limit of POST /events: counted in the per-key limit's Redis call when it could be
    (`EventCollectionView.also_rate_counter`), else here. `request` is the Django request."""
    used = getattr(getattr(request, "bxb_ratelimit", None), "also_count", None)
    if used is None:
        return _rate_limit(organization, 1)
    return _enforce(ratelimit.decide(used, 1))


def _enforce(decision: Any) -> dict[str, str]:
    if decision is None:
        return {}
    if not decision.allowed:
        exc = Throttled(wait=decision.reset)
        exc.response_headers = decision.headers()  # type: ignore[attr-defined]
        raise exc
    return decision.headers()


def _with_headers(response: Response, headers: dict[str, str]) -> Response:
    for key, value in headers.items():
        response[key] = value
    return response


class EventCollectionView(OrganizationAPIView):
    resource_name = "event"  # what the class name gives, without deriving it on every request

    def also_rate_counter(self, request: Request | HttpRequest) -> tuple[str, int, int] | None:
        """A POST's one event is counted against the organization's events limit in the same Redis
        call as the per-key request limit (billing_project.core.api.throttling)."""
        return ratelimit.redis_counter(self.organization.id, 1) if request.method == "POST" else None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # One event, answered without DRF's per-request machinery when nothing calls for it
        # (`OrganizationAPIView.answer_write_directly`); everything else goes through `post` below.
        if request.method == "POST":
            answer = self.answer_write_directly(request, "event", lambda payload: self.create(request, payload))
            if answer is not None:
                return answer
        return super().dispatch(request, *args, **kwargs)

    def create(self, request: HttpRequest, payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Store one event: (the response's data, the events limit's headers)."""
        headers = _single_event_rate_limit(request, self.organization)
        result = services.events_ingest(self.organization, [payload], single=True, cached_lookups=True)
        event = result.events[0]
        return {"event": event_dict(event, ids=result.subscription_ids.get(event.external_subscription_id))}, headers

    @endpoint("events_create", EventEnvelope, request=EventInputEnvelope)
    def post(self, request: Request) -> Response:
        """Send one usage event"""
        data, headers = self.create(request._request, root_payload(request, "event"))
        return _with_headers(Response(data), headers)

    @endpoint("events_list", EventListEnvelope, parameters=filters.EventFilters.schema_parameters())
    def get(self, request: Request) -> Response:
        """List events"""
        params = filters.EventFilters.parse(request)
        page, per_page = page_params(request)
        wanted = EventListFilters(
            code=params["code"],
            external_subscription_id=params["external_subscription_id"],
            timestamp_from=params["timestamp_from"],
            timestamp_to=params["timestamp_to"],
        )
        result = selectors.event_list_page(self.organization, wanted, page=page, per_page=per_page)
        return Response({"events": [event_dict(e) for e in result.events], "meta": event_page_meta(result)})


class EventBatchView(OrganizationAPIView):
    parser_classes = [BatchJSONParser]

    @endpoint("events_batch_create", EventBatchOutput, request=EventBatchInput)
    def post(self, request: Request) -> Response:
        """Send up to 1,000 usage events"""
        data = request.data
        if not isinstance(data, dict) or "events" not in data or data["events"] is None:
            raise BadRequestFailure("param is missing or the value is empty or invalid: events")
        events = data["events"]
        if not isinstance(events, list):
            raise BadRequestFailure("events_must_be_an_array")
        headers = _rate_limit(self.organization, max(1, len(events)))
        result = services.events_ingest(self.organization, events, cached_lookups=True)
        created_at = iso_ms(result.events[0].created_at) if result.events else ""
        ids = result.subscription_ids
        body = {
            "events": [ingested_event_dict(e, created_at, ids) for e in result.events],
            "duplicates": [duplicate_dict(e) for e in result.duplicates],
        }
        # Rendered here with orjson (several times faster than DRF's renderer on 1,000 events).
        return _with_headers(HttpResponse(ingestion.dumps_bytes(body), content_type="application/json"), headers)


class _EstimateView(OrganizationAPIView):
    # The estimate routes: `{"fees": [...]}` of one function of `metering.estimates` (persists nothing).
    # (A comment, not a docstring: drf-spectacular would publish it as the operations' description.)
    resource_name = "event"

    def fees(self, estimate: str, events: Any) -> Response:
        from metering import estimates  # not loaded by the ingestion routes

        return Response(
            {"fees": [fee_estimate_dict(e) for e in getattr(estimates, estimate)(self.organization, events)]}
        )


class EventEstimateFeesView(_EstimateView):
    @endpoint("events_estimate_fees", FeeEstimateListOutput, request=EstimateEventInputEnvelope)
    def post(self, request: Request) -> Response:
        """Estimate the fees of a pay-in-advance event over the subscription's period usage (persists nothing)"""
        return self.fees("events_estimate_fees", root_payload(request, "event"))


class EventEstimateInstantFeesView(_EstimateView):
    @endpoint("events_estimate_instant_fees", FeeEstimateListOutput, request=EstimateEventInputEnvelope)
    def post(self, request: Request) -> Response:
        """Estimate the fee of one event on its own on pay-in-advance standard or percentage charges"""
        return self.fees("events_estimate_instant_fees", root_payload(request, "event"))


class EventBatchEstimateInstantFeesView(_EstimateView):
    @endpoint("events_batch_estimate_instant_fees", FeeEstimateListOutput, request=EstimateEventBatchInput)
    def post(self, request: Request) -> Response:
        """Estimate the instant fees of up to 100 events, each on its own"""
        data = request.data
        if not isinstance(data, dict) or data.get("events") in (None, "", [], {}):
            raise BadRequestFailure("param is missing or the value is empty or invalid: events")
        return self.fees("events_batch_estimate_instant_fees", data["events"])


class EventDetailView(OrganizationAPIView):
    @endpoint("events_retrieve", EventDetailEnvelope, parameters=filters.EventLookupFilters.schema_parameters())
    def get(self, request: Request, transaction_id: str) -> Response:
        """Find an event by transaction id"""
        params = filters.EventLookupFilters.parse(request)
        event = selectors.event_get(
            self.organization,
            transaction_id,
            external_subscription_id=params["external_subscription_id"],
        )
        errors = selectors.event_errors_of(self.organization, event)
        return Response({"event": event_detail_dict(event, errors)})


class EventErrorCollectionView(OrganizationAPIView):
    resource_name = "event"

    @endpoint("event_errors_list", EventErrorListEnvelope, parameters=filters.EventErrorFilters.schema_parameters())
    def get(self, request: Request) -> Response:
        """Stored events that cannot be billed as they are (unknown code or subscription, missing value)"""
        params = filters.EventErrorFilters.parse(request)
        qs = selectors.event_error_list(
            self.organization,
            error_code=params["error_code"],
            code=params["code"],
            external_subscription_id=params["external_subscription_id"],
        )
        return paginated_response(request, qs, "event_errors", lambda items: [event_error_dict(e) for e in items])
