"""Subscription alerts and lifetime usage, as `lago-python-client` calls them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.filters import PageFilters
from billing_project.core.api.resources import ResourceView, endpoint
from billing_project.core.api.views import OrganizationAPIView, root_payload, validate_input
from billing_project.core.errors import BadRequestFailure, ValidationFailure
from usage_monitoring import selectors
from usage_monitoring.api import filters
from usage_monitoring.api.serializers import (
    AlertEnvelope,
    AlertInput,
    AlertInputEnvelope,
    AlertListEnvelope,
    AlertUpdateEnvelope,
    LifetimeUsageEnvelope,
    LifetimeUsageInput,
    LifetimeUsageInputEnvelope,
)
from usage_monitoring.inputs import AlertFields
from usage_monitoring.representation import alert_payload
from usage_monitoring.services import alerts as alert_services
from usage_monitoring.services import lifetime as lifetime_services

STATUS = filters.SubscriptionStatusFilters.schema_parameters()


def _alert_items(items: list[object]) -> list[AlertFields]:
    """The batch's alerts, each validated; errors keyed by the item's index, as the service's are."""
    result = []
    for index, item in enumerate(items):
        try:
            result.append(AlertFields.from_validated(validate_input(AlertInput, item)))
        except ValidationFailure as failure:
            raise ValidationFailure({str(index): failure.details}) from None
    return result


def _status(request: Request) -> str | None:
    return filters.SubscriptionStatusFilters.parse(request)["subscription_status"]


class AlertView(ResourceView):
    resource_name = "alert"
    render = staticmethod(alert_payload)


class AlertCollectionView(AlertView):
    @endpoint("subscription_alerts_list", AlertListEnvelope, parameters=filters.AlertFilters.schema_parameters())
    def get(self, request: Request, external_id: str) -> Response:
        """List a subscription's alerts"""
        sub = selectors.subscription_for(self.organization, external_id, status=_status(request))
        return self.page(request, selectors.alert_list(self.organization, sub.external_id))

    @endpoint(
        "subscription_alerts_create",
        AlertEnvelope,
        parameters=STATUS,
        request=AlertInputEnvelope,
        description='With `{"alerts": [...]}` (the batch the Lago client sends) the answer is `{"alerts": [...]}`.',
    )
    def post(self, request: Request, external_id: str) -> Response:
        """Create one alert (`alert`) or several at once (`alerts`)"""
        data = request.data if isinstance(request.data, dict) else {}
        if isinstance(data.get("alerts"), list):
            created = alert_services.alerts_create(
                self.organization,
                external_subscription_id=external_id,
                items=_alert_items(data["alerts"]),
                status=_status(request),
            )
            alerts = [selectors.alert_get(self.organization, a.external_subscription_id, a.code) for a in created]
            return Response({"alerts": self.render_many(alerts)})
        alert = alert_services.alert_create(
            self.organization,
            external_subscription_id=external_id,
            data=AlertFields.from_validated(self.body(request, AlertInput)),
            status=_status(request),
        )
        return self.one(selectors.alert_get(self.organization, alert.external_subscription_id, alert.code))

    @endpoint("subscription_alerts_destroy_all", {200: OpenApiResponse(description="Empty body")}, parameters=STATUS)
    def delete(self, request: Request, external_id: str) -> Response:
        """Delete every alert of a subscription"""
        alert_services.alerts_delete(self.organization, external_subscription_id=external_id, status=_status(request))
        return Response(status=200)


class AlertDetailView(AlertView):
    def _check(self, request: Request, external_id: str) -> None:
        selectors.subscription_for(self.organization, external_id, status=_status(request))

    @endpoint("subscription_alert_get", AlertEnvelope, parameters=STATUS)
    def get(self, request: Request, external_id: str, code: str) -> Response:
        """One alert"""
        self._check(request, external_id)
        return self.one(selectors.alert_get(self.organization, external_id, code))

    @endpoint("subscription_alert_update", AlertEnvelope, parameters=STATUS, request=AlertUpdateEnvelope)
    def put(self, request: Request, external_id: str, code: str) -> Response:
        """Update an alert (thresholds are replaced as a whole)"""
        self._check(request, external_id)
        data = AlertFields.from_validated(self.body(request, AlertInput, partial=True))
        return self.one(
            alert_services.alert_update(self.organization, external_subscription_id=external_id, code=code, data=data)
        )

    @endpoint("subscription_alert_destroy", AlertEnvelope, parameters=STATUS)
    def delete(self, request: Request, external_id: str, code: str) -> Response:
        """Delete an alert"""
        self._check(request, external_id)
        return self.one(alert_services.alert_delete(self.organization, external_subscription_id=external_id, code=code))


class LifetimeUsageView(OrganizationAPIView):
    resource_name = "lifetime_usage"

    @endpoint("subscription_lifetime_usage_get", LifetimeUsageEnvelope)
    def get(self, request: Request, external_id: str) -> Response:
        """Lifetime usage of a subscription, with usage thresholds and completion ratios"""
        body = lifetime_services.lifetime_usage_get(self.organization, external_subscription_id=external_id)
        return Response({"lifetime_usage": body})

    @endpoint("subscription_lifetime_usage_update", LifetimeUsageEnvelope, request=LifetimeUsageInputEnvelope)
    def put(self, request: Request, external_id: str) -> Response:
        """Set the usage billed before bxb (external_historical_usage_amount_cents)"""
        payload = root_payload(request, "lifetime_usage")
        if "external_historical_usage_amount_cents" not in payload:
            raise BadRequestFailure(
                "param is missing or the value is empty or invalid: external_historical_usage_amount_cents"
            )
        data = validate_input(LifetimeUsageInput, payload)
        body = lifetime_services.lifetime_usage_update(
            self.organization,
            external_subscription_id=external_id,
            external_historical_usage_amount_cents=data["external_historical_usage_amount_cents"],
        )
        return Response({"lifetime_usage": body})


class WalletAlertView(AlertView):
    # The alerts of a customer's wallet, found by the path's customer and wallet code.
    def wallet(self, external_customer_id: str, wallet_code: str) -> Any:
        return selectors.wallet_for(self.organization, external_customer_id, wallet_code)


class WalletAlertCollectionView(WalletAlertView):
    """`client.wallets.alerts` (CustomerWalletAlertClient): /customers/{ext}/wallets/{code}/alerts."""

    @endpoint("wallet_alerts_list", AlertListEnvelope, parameters=PageFilters.schema_parameters())
    def get(self, request: Request, external_customer_id: str, wallet_code: str) -> Response:
        """List a wallet's alerts"""
        wallet = self.wallet(external_customer_id, wallet_code)
        return self.page(request, selectors.wallet_alert_list(self.organization, wallet))

    @endpoint(
        "wallet_alerts_create",
        AlertEnvelope,
        request=AlertInputEnvelope,
        description='With `{"alerts": [...]}` (the client\'s `create_batch`) the answer is `{"alerts": [...]}`.',
    )
    def post(self, request: Request, external_customer_id: str, wallet_code: str) -> Response:
        """Create one wallet alert (`alert`) or several at once (`alerts`)"""
        wallet = self.wallet(external_customer_id, wallet_code)
        data = request.data if isinstance(request.data, dict) else {}
        if isinstance(data.get("alerts"), list):
            created = alert_services.wallet_alerts_create(
                self.organization, wallet=wallet, items=_alert_items(data["alerts"])
            )
            alerts = selectors.wallet_alert_list(self.organization, wallet).filter(id__in=[a.id for a in created])
            return Response({"alerts": self.render_many(alerts)})
        fields = AlertFields.from_validated(self.body(request, AlertInput))
        alert = alert_services.wallet_alert_create(self.organization, wallet=wallet, data=fields)
        return self.one(selectors.wallet_alert_get(self.organization, wallet, alert.code))

    @endpoint("wallet_alerts_destroy_all", {200: OpenApiResponse(description="Empty body")})
    def delete(self, request: Request, external_customer_id: str, wallet_code: str) -> Response:
        """Delete every alert of a wallet"""
        alert_services.wallet_alerts_delete(self.organization, wallet=self.wallet(external_customer_id, wallet_code))
        return Response(status=200)


class WalletAlertDetailView(WalletAlertView):
    @endpoint("wallet_alert_get", AlertEnvelope)
    def get(self, request: Request, external_customer_id: str, wallet_code: str, code: str) -> Response:
        """One wallet alert"""
        wallet = self.wallet(external_customer_id, wallet_code)
        return self.one(selectors.wallet_alert_get(self.organization, wallet, code))

    @endpoint("wallet_alert_update", AlertEnvelope, request=AlertUpdateEnvelope)
    def put(self, request: Request, external_customer_id: str, wallet_code: str, code: str) -> Response:
        """Update a wallet alert (thresholds are replaced as a whole)"""
        wallet = self.wallet(external_customer_id, wallet_code)
        data = AlertFields.from_validated(self.body(request, AlertInput, partial=True))
        return self.one(alert_services.wallet_alert_update(self.organization, wallet=wallet, code=code, data=data))

    @endpoint("wallet_alert_destroy", AlertEnvelope)
    def delete(self, request: Request, external_customer_id: str, wallet_code: str, code: str) -> Response:
        """Delete a wallet alert"""
        wallet = self.wallet(external_customer_id, wallet_code)
        return self.one(alert_services.wallet_alert_delete(self.organization, wallet=wallet, code=code))
