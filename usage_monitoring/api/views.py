"""Subscription alerts and lifetime usage, as `lago-python-client` calls them."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.filters import PageFilters
from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.views import OrganizationAPIView, root_payload, validate_input
from billing_project.core.errors import BadRequestFailure
from usage_monitoring import selectors
from usage_monitoring.api import filters
from usage_monitoring.api.serializers import (
    AlertEnvelope,
    AlertInputEnvelope,
    AlertListEnvelope,
    AlertUpdateEnvelope,
    LifetimeUsageEnvelope,
    LifetimeUsageInput,
    LifetimeUsageInputEnvelope,
)
from usage_monitoring.representation import alert_payload
from usage_monitoring.services import alerts as alert_services
from usage_monitoring.services import lifetime as lifetime_services

STATUS = filters.SubscriptionStatusFilters.schema_parameters()


def _status(request: Request) -> str | None:
    return filters.SubscriptionStatusFilters.parse(request)["subscription_status"]


class AlertCollectionView(OrganizationAPIView):
    resource_name = "alert"

    @extend_schema(
        operation_id="subscription_alerts_list",
        summary="List a subscription's alerts",
        parameters=filters.AlertFilters.schema_parameters(),
        responses=AlertListEnvelope,
    )
    def get(self, request: Request, external_id: str) -> Response:
        sub = selectors.subscription_for(self.organization, external_id, status=_status(request))
        qs = selectors.alert_list(self.organization, sub.external_id)
        return paginated_response(request, qs, "alerts", lambda items: [alert_payload(a) for a in items])

    @extend_schema(
        operation_id="subscription_alerts_create",
        summary="Create one alert (`alert`) or several at once (`alerts`)",
        parameters=STATUS,
        request=AlertInputEnvelope,
        responses=AlertEnvelope,
        description='With `{"alerts": [...]}` (the batch the Lago client sends) the answer is `{"alerts": [...]}`.',
    )
    def post(self, request: Request, external_id: str) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        if isinstance(data.get("alerts"), list):
            created = alert_services.alerts_create(
                self.organization, external_subscription_id=external_id, items=data["alerts"], status=_status(request)
            )
            return Response(
                {
                    "alerts": [
                        alert_payload(selectors.alert_get(self.organization, a.external_subscription_id, a.code))
                        for a in created
                    ]
                }
            )
        payload = root_payload(request, "alert")
        alert = alert_services.alert_create(
            self.organization, external_subscription_id=external_id, data=payload, status=_status(request)
        )
        alert = selectors.alert_get(self.organization, alert.external_subscription_id, alert.code)
        return Response({"alert": alert_payload(alert)})

    @extend_schema(
        operation_id="subscription_alerts_destroy_all",
        summary="Delete every alert of a subscription",
        parameters=STATUS,
        responses={200: OpenApiResponse(description="Empty body")},
    )
    def delete(self, request: Request, external_id: str) -> Response:
        alert_services.alerts_delete(self.organization, external_subscription_id=external_id, status=_status(request))
        return Response(status=200)


class AlertDetailView(OrganizationAPIView):
    resource_name = "alert"

    def _check(self, request: Request, external_id: str) -> None:
        selectors.subscription_for(self.organization, external_id, status=_status(request))

    @extend_schema(
        operation_id="subscription_alert_get", summary="One alert", parameters=STATUS, responses=AlertEnvelope
    )
    def get(self, request: Request, external_id: str, code: str) -> Response:
        self._check(request, external_id)
        return Response({"alert": alert_payload(selectors.alert_get(self.organization, external_id, code))})

    @extend_schema(
        operation_id="subscription_alert_update",
        summary="Update an alert (thresholds are replaced as a whole)",
        parameters=STATUS,
        request=AlertUpdateEnvelope,
        responses=AlertEnvelope,
    )
    def put(self, request: Request, external_id: str, code: str) -> Response:
        self._check(request, external_id)
        payload = root_payload(request, "alert")
        alert = alert_services.alert_update(
            self.organization, external_subscription_id=external_id, code=code, data=payload
        )
        return Response({"alert": alert_payload(alert)})

    @extend_schema(
        operation_id="subscription_alert_destroy",
        summary="Delete an alert",
        parameters=STATUS,
        responses=AlertEnvelope,
    )
    def delete(self, request: Request, external_id: str, code: str) -> Response:
        self._check(request, external_id)
        alert = alert_services.alert_delete(self.organization, external_subscription_id=external_id, code=code)
        return Response({"alert": alert_payload(alert)})


class LifetimeUsageView(OrganizationAPIView):
    resource_name = "lifetime_usage"

    @extend_schema(
        operation_id="subscription_lifetime_usage_get",
        summary="Lifetime usage of a subscription, with usage thresholds and completion ratios",
        responses=LifetimeUsageEnvelope,
    )
    def get(self, request: Request, external_id: str) -> Response:
        body = lifetime_services.lifetime_usage_get(self.organization, external_subscription_id=external_id)
        return Response({"lifetime_usage": body})

    @extend_schema(
        operation_id="subscription_lifetime_usage_update",
        summary="Set the usage billed before bxb (external_historical_usage_amount_cents)",
        request=LifetimeUsageInputEnvelope,
        responses=LifetimeUsageEnvelope,
    )
    def put(self, request: Request, external_id: str) -> Response:
        payload = root_payload(request, "lifetime_usage")
        if "external_historical_usage_amount_cents" not in payload:
            raise BadRequestFailure(
                "param is missing or the value is empty or invalid: external_historical_usage_amount_cents"
            )
        data = validate_input(LifetimeUsageInput, payload)
        body = lifetime_services.lifetime_usage_update(
            self.organization, external_subscription_id=external_id, data=data
        )
        return Response({"lifetime_usage": body})


class WalletAlertCollectionView(OrganizationAPIView):
    """`client.wallets.alerts` (CustomerWalletAlertClient): /customers/{ext}/wallets/{code}/alerts."""

    resource_name = "alert"

    @extend_schema(
        operation_id="wallet_alerts_list",
        summary="List a wallet's alerts",
        parameters=PageFilters.schema_parameters(),
        responses=AlertListEnvelope,
    )
    def get(self, request: Request, external_customer_id: str, wallet_code: str) -> Response:
        wallet = selectors.wallet_for(self.organization, external_customer_id, wallet_code)
        qs = selectors.wallet_alert_list(self.organization, wallet)
        return paginated_response(request, qs, "alerts", lambda items: [alert_payload(a) for a in items])

    @extend_schema(
        operation_id="wallet_alerts_create",
        summary="Create one wallet alert (`alert`) or several at once (`alerts`)",
        request=AlertInputEnvelope,
        responses=AlertEnvelope,
        description='With `{"alerts": [...]}` (the client\'s `create_batch`) the answer is `{"alerts": [...]}`.',
    )
    def post(self, request: Request, external_customer_id: str, wallet_code: str) -> Response:
        wallet = selectors.wallet_for(self.organization, external_customer_id, wallet_code)
        data = request.data if isinstance(request.data, dict) else {}
        if isinstance(data.get("alerts"), list):
            created = alert_services.wallet_alerts_create(self.organization, wallet=wallet, items=data["alerts"])
            alerts = selectors.wallet_alert_list(self.organization, wallet).filter(id__in=[a.id for a in created])
            return Response({"alerts": [alert_payload(a) for a in alerts]})
        payload = root_payload(request, "alert")
        alert = alert_services.wallet_alert_create(self.organization, wallet=wallet, data=payload)
        return Response({"alert": alert_payload(selectors.wallet_alert_get(self.organization, wallet, alert.code))})

    @extend_schema(
        operation_id="wallet_alerts_destroy_all",
        summary="Delete every alert of a wallet",
        responses={200: OpenApiResponse(description="Empty body")},
    )
    def delete(self, request: Request, external_customer_id: str, wallet_code: str) -> Response:
        wallet = selectors.wallet_for(self.organization, external_customer_id, wallet_code)
        alert_services.wallet_alerts_delete(self.organization, wallet=wallet)
        return Response(status=200)


class WalletAlertDetailView(OrganizationAPIView):
    resource_name = "alert"

    @extend_schema(operation_id="wallet_alert_get", summary="One wallet alert", responses=AlertEnvelope)
    def get(self, request: Request, external_customer_id: str, wallet_code: str, code: str) -> Response:
        wallet = selectors.wallet_for(self.organization, external_customer_id, wallet_code)
        return Response({"alert": alert_payload(selectors.wallet_alert_get(self.organization, wallet, code))})

    @extend_schema(
        operation_id="wallet_alert_update",
        summary="Update a wallet alert (thresholds are replaced as a whole)",
        request=AlertUpdateEnvelope,
        responses=AlertEnvelope,
    )
    def put(self, request: Request, external_customer_id: str, wallet_code: str, code: str) -> Response:
        wallet = selectors.wallet_for(self.organization, external_customer_id, wallet_code)
        payload = root_payload(request, "alert")
        alert = alert_services.wallet_alert_update(self.organization, wallet=wallet, code=code, data=payload)
        return Response({"alert": alert_payload(alert)})

    @extend_schema(operation_id="wallet_alert_destroy", summary="Delete a wallet alert", responses=AlertEnvelope)
    def delete(self, request: Request, external_customer_id: str, wallet_code: str, code: str) -> Response:
        wallet = selectors.wallet_for(self.organization, external_customer_id, wallet_code)
        alert = alert_services.wallet_alert_delete(self.organization, wallet=wallet, code=code)
        return Response({"alert": alert_payload(alert)})
