"""Subscriptions endpoints. Views parse, call a service, and render."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response, prepared_page_response
from billing_project.core.api.resources import endpoint
from billing_project.core.api.views import (
    OrganizationAPIView,
    refuse_unsupported_body,
    root_payload,
    validate_input,
)
from billing_project.core.errors import ValidationFailure
from catalog import selectors as catalog_selectors
from catalog.api.serializers import (
    ChargeEnvelope,
    ChargeFilterEnvelope,
    ChargeFilterInput,
    ChargeFilterInputEnvelope,
    ChargeFilterListEnvelope,
    ChargeFilterOutput,
    ChargeFilterUpdateEnvelope,
    ChargeFilterUpdateInput,
    ChargeListEnvelope,
    ChargeOutput,
)
from catalog.inputs import ChargeFilterFields, ChargeOverrideFields
from customers.api.scoped import customer_list_view
from subscriptions import selectors, services
from subscriptions.api import filters
from subscriptions.api.serializers import (
    SUBSCRIPTION_BODY_LAGO_ONLY,
    SUBSCRIPTION_CHARGE_LAGO_ONLY,
    SUBSCRIPTION_LAGO_ONLY,
    SubscriptionChargeInput,
    SubscriptionChargeInputEnvelope,
    SubscriptionEnvelope,
    SubscriptionInput,
    SubscriptionInputEnvelope,
    SubscriptionListEnvelope,
    SubscriptionUpdateInput,
    SubscriptionUpdateInputEnvelope,
)
from subscriptions.inputs import SubscriptionCreate, SubscriptionUpdate
from subscriptions.representation import SubscriptionOutput, SubscriptionWithPlanOutput


def subscription_body(subscription: Any, *, read: bool = False) -> dict[str, Any]:
    """`{"subscription": ...}`; reloaded with its relations unless `read` (just read by a selector
    that loads them: `subscription_get`)."""
    if not read:
        subscription = selectors.subscription_reload(subscription)
    return {"subscription": SubscriptionWithPlanOutput(subscription).data}


def _status(request: Request) -> str | None:
    """Which of the external id's subscriptions a PUT addresses: `?status=`, or Lago's body `status`."""
    status = filters.SubscriptionLookupFilters.parse(request)["status"] or request.data.get("status")
    if status is not None and not isinstance(status, str):
        raise ValidationFailure.single("status", "value_is_invalid")
    return status or None


_FILTERS = ("external_customer_id", "plan_code", "status", "external_id", "currency")


def subscription_list_answer(request: Request, organization: Any, params: dict[str, Any]) -> Response:
    """`GET /subscriptions` (and `GET /customers/{external_id}/subscriptions`) for parsed filters."""
    if not any(params[name] for name in _FILTERS):  # the active ones, the list read most: compiled once
        return prepared_page_response(
            request,
            selectors.ACTIVE_PAGES,
            "subscriptions",
            lambda items: SubscriptionOutput(items, many=True).data,
            organization=organization.pk,
        )
    qs = selectors.subscription_list(
        organization,
        external_customer_id=params["external_customer_id"],
        plan_code=params["plan_code"],
        statuses=params["status"] or None,
        external_id=params["external_id"],
        currency=params["currency"],
    )
    return paginated_response(request, qs, "subscriptions", lambda items: SubscriptionOutput(items, many=True).data)


class SubscriptionCollectionView(OrganizationAPIView):
    @endpoint(
        "subscriptions_list", SubscriptionListEnvelope, parameters=filters.SubscriptionFilters.schema_parameters()
    )
    def get(self, request: Request) -> Response:
        """List subscriptions"""
        return subscription_list_answer(request, self.organization, filters.SubscriptionFilters.parse(request))

    @endpoint("subscriptions_create", SubscriptionEnvelope, request=SubscriptionInputEnvelope)
    def post(self, request: Request) -> Response:
        """Create a subscription, or change its plan (same external_id, another plan_code)"""
        refuse_unsupported_body(request, SUBSCRIPTION_BODY_LAGO_ONLY)
        payload = root_payload(request, "subscription", lago_only=SUBSCRIPTION_LAGO_ONLY)
        data = validate_input(SubscriptionInput, payload)
        subscription = services.subscription_create(self.organization, SubscriptionCreate.from_validated(data))
        return Response(subscription_body(subscription))


CustomerSubscriptionListView = customer_list_view(
    "subscriptions", filters.SubscriptionFilters, subscription_list_answer, SubscriptionListEnvelope
)


class SubscriptionDetailView(OrganizationAPIView):
    @endpoint(
        "subscriptions_retrieve", SubscriptionEnvelope, parameters=filters.SubscriptionLookupFilters.schema_parameters()
    )
    def get(self, request: Request, external_id: str) -> Response:
        """Find a subscription (the active one unless `status` is given)"""
        params = filters.SubscriptionLookupFilters.parse(request)
        subscription = selectors.subscription_get(
            self.organization, external_id, status=params["status"], with_plan=True
        )
        return Response(subscription_body(subscription, read=True))

    @endpoint(
        "subscriptions_update",
        SubscriptionEnvelope,
        request=SubscriptionUpdateInputEnvelope,
        parameters=filters.SubscriptionLookupFilters.schema_parameters(),
    )
    def put(self, request: Request, external_id: str) -> Response:
        """Update a subscription (partial)"""
        payload = root_payload(request, "subscription", lago_only=SUBSCRIPTION_LAGO_ONLY)
        data = validate_input(SubscriptionUpdateInput, payload, partial=True)
        subscription = selectors.subscription_get_live(self.organization, external_id, status=_status(request))
        subscription = services.subscription_update(
            self.organization, subscription, SubscriptionUpdate.from_validated(data)
        )
        return Response(subscription_body(subscription))

    @endpoint(
        "subscriptions_destroy",
        SubscriptionEnvelope,
        parameters=filters.SubscriptionTerminateFilters.schema_parameters(),
    )
    def delete(self, request: Request, external_id: str) -> Response:
        """Terminate a subscription (or cancel a pending one with status=pending)"""
        params = filters.SubscriptionTerminateFilters.parse(request)
        subscription = selectors.subscription_get(self.organization, external_id, status=params["status"])
        subscription = services.subscription_terminate(
            self.organization,
            subscription,
            on_termination_credit_note=params["on_termination_credit_note"],
            on_termination_invoice=params["on_termination_invoice"],
        )
        return Response(subscription_body(subscription))


# --- one subscription's charges and their filters (docs/subscriptions.md, "Charge overrides") -------


def _charges_subscription(request: Request, organization: Any, external_id: str, *, paginated: bool = False) -> Any:
    """The subscription these routes address: Lago's `subscription_status` (or `status`), default active."""
    status = filters.charges_subscription_status(request, paginated=paginated)
    return selectors.subscription_get(organization, external_id, status=status)


def _charge_body(charge: Any) -> dict[str, Any]:
    return {"charge": ChargeOutput(catalog_selectors.charge_reload(charge)).data}


def _filter_body(charge_filter: Any) -> dict[str, Any]:
    return {"filter": ChargeFilterOutput(charge_filter).data}


class SubscriptionChargeCollectionView(OrganizationAPIView):
    resource_name = "subscription"

    @endpoint("subscription_charges_list", ChargeListEnvelope, parameters=filters.CHARGE_LIST_PARAMETERS)
    def get(self, request: Request, external_id: str) -> Response:
        """A subscription's charges (its own copies once one was overridden)"""
        subscription = _charges_subscription(request, self.organization, external_id, paginated=True)
        return paginated_response(
            request,
            catalog_selectors.charge_list(subscription.plan),
            "charges",
            lambda items: ChargeOutput(items, many=True).data,
        )


class SubscriptionChargeDetailView(OrganizationAPIView):
    resource_name = "subscription"

    @endpoint("subscription_charges_retrieve", ChargeEnvelope, parameters=filters.CHARGE_PARAMETERS)
    def get(self, request: Request, external_id: str, charge_code: str) -> Response:
        """One charge of a subscription (its override when there is one)"""
        subscription = _charges_subscription(request, self.organization, external_id)
        return Response(_charge_body(catalog_selectors.charge_get(subscription.plan, charge_code)))

    @endpoint(
        "subscription_charges_update",
        ChargeEnvelope,
        request=SubscriptionChargeInputEnvelope,
        parameters=filters.CHARGE_PARAMETERS,
    )
    def put(self, request: Request, external_id: str, charge_code: str) -> Response:
        """Override a charge for this subscription (properties, display name, minimum, filters, taxes)"""
        payload = root_payload(request, "charge", lago_only=SUBSCRIPTION_CHARGE_LAGO_ONLY)
        data = validate_input(SubscriptionChargeInput, payload, partial=True)
        subscription = _charges_subscription(request, self.organization, external_id)
        charge = services.subscription_charge_override(
            self.organization,
            subscription,
            charge_code=charge_code,
            data=ChargeOverrideFields.from_validated(data),
        )
        return Response(_charge_body(charge))


class SubscriptionChargeFilterCollectionView(OrganizationAPIView):
    resource_name = "subscription"

    @endpoint("subscription_charge_filters_list", ChargeFilterListEnvelope, parameters=filters.CHARGE_LIST_PARAMETERS)
    def get(self, request: Request, external_id: str, charge_code: str) -> Response:
        """The filters of one charge of a subscription"""
        subscription = _charges_subscription(request, self.organization, external_id, paginated=True)
        charge = catalog_selectors.charge_get(subscription.plan, charge_code)
        return paginated_response(
            request,
            catalog_selectors.charge_filter_list(charge),
            "filters",
            lambda items: ChargeFilterOutput(items, many=True).data,
        )

    @endpoint(
        "subscription_charge_filters_create",
        ChargeFilterEnvelope,
        request=ChargeFilterInputEnvelope,
        parameters=filters.CHARGE_PARAMETERS,
    )
    def post(self, request: Request, external_id: str, charge_code: str) -> Response:
        """Add a filter to one charge of a subscription (overrides the charge)"""
        data = validate_input(ChargeFilterInput, root_payload(request, "filter"))
        subscription = _charges_subscription(request, self.organization, external_id)
        charge_filter = services.subscription_charge_filter_create(
            self.organization,
            subscription,
            charge_code=charge_code,
            data=ChargeFilterFields.from_validated(data),
        )
        return Response(_filter_body(charge_filter))


class SubscriptionChargeFilterDetailView(OrganizationAPIView):
    resource_name = "subscription"

    @endpoint("subscription_charge_filters_retrieve", ChargeFilterEnvelope, parameters=filters.CHARGE_PARAMETERS)
    def get(self, request: Request, external_id: str, charge_code: str, filter_id: str) -> Response:
        """One filter of one charge of a subscription"""
        subscription = _charges_subscription(request, self.organization, external_id)
        charge = catalog_selectors.charge_get(subscription.plan, charge_code)
        return Response(_filter_body(catalog_selectors.charge_filter_get(charge, filter_id)))

    @endpoint(
        "subscription_charge_filters_update",
        ChargeFilterEnvelope,
        request=ChargeFilterUpdateEnvelope,
        parameters=filters.CHARGE_PARAMETERS,
    )
    def put(self, request: Request, external_id: str, charge_code: str, filter_id: str) -> Response:
        """Change a filter of one charge of a subscription (overrides the charge)"""
        data = validate_input(ChargeFilterUpdateInput, root_payload(request, "filter"), partial=True)
        subscription = _charges_subscription(request, self.organization, external_id)
        charge_filter = services.subscription_charge_filter_update(
            self.organization,
            subscription,
            charge_code=charge_code,
            filter_id=filter_id,
            data=ChargeFilterFields.from_validated(data),
        )
        return Response(_filter_body(charge_filter))

    @endpoint("subscription_charge_filters_destroy", ChargeFilterEnvelope, parameters=filters.CHARGE_PARAMETERS)
    def delete(self, request: Request, external_id: str, charge_code: str, filter_id: str) -> Response:
        """Remove a filter of one charge of a subscription (overrides the charge)"""
        subscription = _charges_subscription(request, self.organization, external_id)
        charge_filter = services.subscription_charge_filter_delete(
            self.organization, subscription, charge_code=charge_code, filter_id=filter_id
        )
        return Response(_filter_body(charge_filter))
