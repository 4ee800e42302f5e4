"""Catalog endpoints: parse, call a service or selector, render (docs/lago-compatibility.md §2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.filters import PageFilters
from billing_project.core.api.pagination import PreparedPages, meta_for, paginated_response, prepared_page_response
from billing_project.core.api.unsupported import LagoOnly
from billing_project.core.api.views import (
    OrganizationAPIView,
    metadata_body,
    refuse_unsupported_body,
    root_payload,
    validate_input,
)
from catalog import expressions, selectors, services
from catalog.api import filters
from catalog.api import serializers as s
from catalog.inputs import (
    AddOnFields,
    AppliedCouponFields,
    BillableMetricFields,
    ChargeFields,
    ChargeFilterFields,
    CouponFields,
    PlanFields,
    SampleEvent,
    TaxFields,
)
from customers.api.scoped import customer_list_view

PAGE_PARAMS = PageFilters.schema_parameters()


def _crud_views(
    *,
    root: str,
    plural: str,
    tag: str,
    input_serializer: type[serializers.Serializer],
    input_envelope: type[serializers.Serializer],
    output: type[serializers.Serializer],
    envelope: type[serializers.Serializer],
    list_envelope: type[serializers.Serializer],
    list_qs: Callable[..., Any],
    get_one: Callable[..., Any],
    create: Callable[..., Any],
    update: Callable[..., Any],
    delete: Callable[..., Any],
    detail_kwarg: str = "code",
    create_lago_only: tuple[LagoOnly, ...] = (),
    update_lago_only: tuple[LagoOnly, ...] = (),
    build_input: Callable[[dict[str, Any]], Any] = lambda data: data,
    pages: Callable[[], PreparedPages] | None = None,
) -> tuple[type[OrganizationAPIView], type[OrganizationAPIView]]:
    """A collection view (list, create) and a detail view (find, update, delete) for one resource.

    `build_input` makes the service's typed input from the validated data (`catalog/inputs.py`);
    `pages`: `list_qs`'s pages compiled once (the lists take no filter).
    """

    def body(obj: Any) -> dict[str, Any]:
        return {root: output(obj).data}

    @extend_schema(operation_id=f"{plural}_list", tags=[tag], parameters=PAGE_PARAMS, responses=list_envelope)
    def list_(self: OrganizationAPIView, request: Request) -> Response:
        def serialize(items: Any) -> Any:
            return output(items, many=True).data

        if pages is not None:
            return prepared_page_response(request, pages(), plural, serialize, organization=self.organization.pk)
        return paginated_response(request, list_qs(self.organization), plural, serialize)

    @extend_schema(operation_id=f"{plural}_create", tags=[tag], request=input_envelope, responses=envelope)
    def create_(self: OrganizationAPIView, request: Request) -> Response:
        data = validate_input(input_serializer, root_payload(request, root, lago_only=create_lago_only))
        obj = create(self.organization, data=build_input(data))
        return Response(body(get_one(self.organization, obj.code)))

    @extend_schema(operation_id=f"{plural}_retrieve", tags=[tag], responses=envelope)
    def retrieve_(self: OrganizationAPIView, request: Request, code: str) -> Response:
        return Response(body(get_one(self.organization, code)))

    @extend_schema(operation_id=f"{plural}_update", tags=[tag], request=input_envelope, responses=envelope)
    def update_(self: OrganizationAPIView, request: Request, code: str) -> Response:
        data = validate_input(input_serializer, root_payload(request, root, lago_only=update_lago_only), partial=True)
        obj = update(self.organization, code=code, data=build_input(data))
        return Response(body(get_one(self.organization, obj.code)))

    @extend_schema(operation_id=f"{plural}_destroy", tags=[tag], responses=envelope)
    def destroy_(self: OrganizationAPIView, request: Request, code: str) -> Response:
        return Response(body(delete(self.organization, code=code)))

    # Scoped API keys check `resource_name` (the Lago resource is the root key, e.g. "plan").
    collection = type(
        f"{tag}CollectionView", (OrganizationAPIView,), {"resource_name": root, "get": list_, "post": create_}
    )
    detail = type(
        f"{tag}DetailView",
        (OrganizationAPIView,),
        {"resource_name": root, "get": retrieve_, "put": update_, "delete": destroy_},
    )
    return collection, detail


TaxCollectionView, TaxDetailView = _crud_views(
    root="tax", plural="taxes", tag="Taxes", input_serializer=s.TaxInput, input_envelope=s.TaxInputEnvelope,
    output=s.TaxOutput, envelope=s.TaxEnvelope, list_envelope=s.TaxListEnvelope, list_qs=selectors.tax_list,
    get_one=selectors.tax_get, create=services.tax_create, update=services.tax_update, delete=services.tax_delete,
    build_input=TaxFields.from_validated, pages=lambda: selectors.TAX_PAGES,
)  # fmt: skip

BillableMetricCollectionView, BillableMetricDetailView = _crud_views(
    root="billable_metric", plural="billable_metrics", tag="BillableMetrics",
    input_serializer=s.BillableMetricInput, input_envelope=s.BillableMetricInputEnvelope,
    output=s.BillableMetricOutput, envelope=s.BillableMetricEnvelope, list_envelope=s.BillableMetricListEnvelope,
    list_qs=selectors.billable_metric_list, get_one=selectors.billable_metric_get,
    create=services.billable_metric_create, update=services.billable_metric_update,
    delete=services.billable_metric_delete, build_input=BillableMetricFields.from_validated,
    pages=lambda: selectors.METRIC_PAGES,
)  # fmt: skip

AddOnCollectionView, AddOnDetailView = _crud_views(
    root="add_on", plural="add_ons", tag="AddOns", input_serializer=s.AddOnInput,
    input_envelope=s.AddOnInputEnvelope, output=s.AddOnOutput, envelope=s.AddOnEnvelope,
    list_envelope=s.AddOnListEnvelope, list_qs=selectors.add_on_list, get_one=selectors.add_on_get,
    create=services.add_on_create, update=services.add_on_update, delete=services.add_on_delete,
    build_input=AddOnFields.from_validated,
)  # fmt: skip

PlanCollectionView, PlanDetailView = _crud_views(
    root="plan", plural="plans", tag="Plans", input_serializer=s.PlanInput, input_envelope=s.PlanInputEnvelope,
    output=s.PlanOutput, envelope=s.PlanEnvelope, list_envelope=s.PlanListEnvelope, list_qs=selectors.plan_list,
    get_one=selectors.plan_get, create=services.plan_create, update=services.plan_update,
    delete=services.plan_delete, create_lago_only=s.PLAN_CREATE_LAGO_ONLY, update_lago_only=s.PLAN_UPDATE_LAGO_ONLY,
    build_input=PlanFields.from_validated, pages=selectors.plan_pages,
)  # fmt: skip

CouponCollectionView, CouponDetailView = _crud_views(
    root="coupon", plural="coupons", tag="Coupons", input_serializer=s.CouponInput,
    input_envelope=s.CouponInputEnvelope, output=s.CouponOutput, envelope=s.CouponEnvelope,
    list_envelope=s.CouponListEnvelope, list_qs=selectors.coupon_list, get_one=selectors.coupon_get,
    create=services.coupon_create, update=services.coupon_update, delete=services.coupon_delete,
    build_input=CouponFields.from_validated,
)  # fmt: skip


class EvaluateExpressionView(OrganizationAPIView):
    resource_name = "billable_metric"

    @extend_schema(
        operation_id="billable_metrics_evaluate_expression",
        tags=["BillableMetrics"],
        summary="Evaluate a metric expression for a sample event",
        request=s.EvaluateExpressionInput,
        responses=s.ExpressionResultEnvelope,
    )
    def post(self, request: Request) -> Response:
        raw = request.data if isinstance(request.data, dict) else {}
        data = validate_input(s.EvaluateExpressionInput, raw)
        event = data.get("event")
        value = services.billable_metric_evaluate_expression(
            self.organization,
            expression=data.get("expression"),
            event=SampleEvent.from_validated(event) if event is not None else None,
        )
        return Response({"expression_result": {"value": expressions.format_value(value)}})


# --- per-plan charges -------------------------------------------------------------------------


def _charge_body(charge: Any) -> dict[str, Any]:
    return {"charge": s.ChargeOutput(charge).data}


class PlanChargeCollectionView(OrganizationAPIView):
    resource_name = "plan"

    @extend_schema(
        operation_id="plan_charges_list", tags=["Plans"], parameters=PAGE_PARAMS, responses=s.ChargeListEnvelope
    )
    def get(self, request: Request, code: str) -> Response:
        charges = selectors.plan_charges(selectors.plan_get(self.organization, code))
        return Response(
            {
                "charges": s.ChargeOutput(charges, many=True).data,
                "meta": meta_for(len(charges), 1, len(charges) or 1),  # every charge on one page
            }
        )

    @extend_schema(
        operation_id="plan_charges_create", tags=["Plans"], request=s.ChargeInputEnvelope, responses=s.ChargeEnvelope
    )
    def post(self, request: Request, code: str) -> Response:
        data = validate_input(s.ChargeInput, root_payload(request, "charge", lago_only=s.CHARGE_LAGO_ONLY))
        charge = services.plan_charge_create(self.organization, plan_code=code, data=ChargeFields.from_validated(data))
        return Response(_charge_body(selectors.plan_charge_get(self.organization, code, charge.code)))


class PlanChargeDetailView(OrganizationAPIView):
    resource_name = "plan"

    @extend_schema(operation_id="plan_charges_retrieve", tags=["Plans"], responses=s.ChargeEnvelope)
    def get(self, request: Request, code: str, charge_code: str) -> Response:
        return Response(_charge_body(selectors.plan_charge_get(self.organization, code, charge_code)))

    @extend_schema(
        operation_id="plan_charges_update", tags=["Plans"], request=s.ChargeInputEnvelope, responses=s.ChargeEnvelope
    )
    def put(self, request: Request, code: str, charge_code: str) -> Response:
        data = validate_input(
            s.ChargeInput, root_payload(request, "charge", lago_only=s.CHARGE_LAGO_ONLY), partial=True
        )
        charge = services.plan_charge_update(
            self.organization, plan_code=code, charge_code=charge_code, data=ChargeFields.from_validated(data)
        )
        return Response(_charge_body(selectors.plan_charge_get(self.organization, code, charge.code)))

    @extend_schema(operation_id="plan_charges_destroy", tags=["Plans"], responses=s.ChargeEnvelope)
    def delete(self, request: Request, code: str, charge_code: str) -> Response:
        refuse_unsupported_body(request, s.CHARGE_DELETE_LAGO_ONLY)
        charge = services.plan_charge_delete(self.organization, plan_code=code, charge_code=charge_code)
        return Response(_charge_body(charge))


# --- applied coupons --------------------------------------------------------------------------


def applied_coupon_list_answer(request: Request, organization: Any, params: dict[str, Any]) -> Response:
    """`GET /applied_coupons` (and `GET /customers/{external_id}/applied_coupons`) for parsed filters."""
    qs = selectors.applied_coupon_list(
        organization,
        external_customer_id=params["external_customer_id"],
        status=params["status"],
        coupon_codes=params["coupon_code"],
    )
    return paginated_response(
        request, qs, "applied_coupons", lambda items: s.AppliedCouponOutput(items, many=True).data
    )


CustomerAppliedCouponListView = customer_list_view(
    "applied_coupons", filters.AppliedCouponFilters, applied_coupon_list_answer, s.AppliedCouponListEnvelope
)


class AppliedCouponCollectionView(OrganizationAPIView):
    resource_name = "applied_coupon"

    @extend_schema(
        operation_id="applied_coupons_list",
        tags=["Coupons"],
        parameters=filters.AppliedCouponFilters.schema_parameters(),
        responses=s.AppliedCouponListEnvelope,
    )
    def get(self, request: Request) -> Response:
        return applied_coupon_list_answer(request, self.organization, filters.AppliedCouponFilters.parse(request))

    @extend_schema(
        operation_id="applied_coupons_create",
        tags=["Coupons"],
        request=s.AppliedCouponInputEnvelope,
        responses=s.AppliedCouponEnvelope,
    )
    def post(self, request: Request) -> Response:
        data = validate_input(s.AppliedCouponInput, root_payload(request, "applied_coupon"))
        applied = services.applied_coupon_create(self.organization, data=AppliedCouponFields.from_validated(data))
        return Response({"applied_coupon": s.AppliedCouponOutput(applied).data})


class CustomerAppliedCouponView(OrganizationAPIView):
    resource_name = "applied_coupon"

    @extend_schema(operation_id="customer_applied_coupons_destroy", tags=["Coupons"], responses=s.AppliedCouponEnvelope)
    def delete(self, request: Request, external_id: str, applied_coupon_id: str) -> Response:
        applied = services.applied_coupon_terminate(
            self.organization,
            applied_coupon_id=applied_coupon_id,
            external_customer_id=external_id,
        )
        return Response({"applied_coupon": s.AppliedCouponOutput(applied).data})


# --- charge filters ---------------------------------------------------------------------------


def _filter_body(charge_filter: Any) -> dict[str, Any]:
    return {"filter": s.ChargeFilterOutput(charge_filter).data}


class ChargeFilterCollectionView(OrganizationAPIView):
    resource_name = "plan"

    @extend_schema(
        operation_id="plan_charge_filters_list",
        tags=["Plans"],
        parameters=PAGE_PARAMS,
        responses=s.ChargeFilterListEnvelope,
    )
    def get(self, request: Request, code: str, charge_code: str) -> Response:
        charge = selectors.plan_charge_get(self.organization, code, charge_code)
        qs = selectors.charge_filter_list(charge)
        return paginated_response(request, qs, "filters", lambda items: s.ChargeFilterOutput(items, many=True).data)

    @extend_schema(
        operation_id="plan_charge_filters_create",
        tags=["Plans"],
        request=s.ChargeFilterInputEnvelope,
        responses=s.ChargeFilterEnvelope,
    )
    def post(self, request: Request, code: str, charge_code: str) -> Response:
        data = validate_input(s.ChargeFilterInput, root_payload(request, "filter", lago_only=s.CHARGE_FILTER_LAGO_ONLY))
        charge_filter = services.charge_filter_create(
            self.organization, plan_code=code, charge_code=charge_code, data=ChargeFilterFields.from_validated(data)
        )
        return Response(_filter_body(charge_filter))


class ChargeFilterDetailView(OrganizationAPIView):
    resource_name = "plan"

    @extend_schema(operation_id="plan_charge_filters_retrieve", tags=["Plans"], responses=s.ChargeFilterEnvelope)
    def get(self, request: Request, code: str, charge_code: str, filter_id: str) -> Response:
        charge = selectors.plan_charge_get(self.organization, code, charge_code)
        return Response(_filter_body(selectors.charge_filter_get(charge, filter_id)))

    @extend_schema(
        operation_id="plan_charge_filters_update",
        tags=["Plans"],
        request=s.ChargeFilterUpdateEnvelope,
        responses=s.ChargeFilterEnvelope,
    )
    def put(self, request: Request, code: str, charge_code: str, filter_id: str) -> Response:
        data = validate_input(
            s.ChargeFilterUpdateInput,
            root_payload(request, "filter", lago_only=s.CHARGE_FILTER_LAGO_ONLY),
            partial=True,
        )
        charge_filter = services.charge_filter_update(
            self.organization,
            plan_code=code,
            charge_code=charge_code,
            filter_id=filter_id,
            data=ChargeFilterFields.from_validated(data),
        )
        return Response(_filter_body(charge_filter))

    @extend_schema(operation_id="plan_charge_filters_destroy", tags=["Plans"], responses=s.ChargeFilterEnvelope)
    def delete(self, request: Request, code: str, charge_code: str, filter_id: str) -> Response:
        refuse_unsupported_body(request, s.CHARGE_FILTER_DELETE_LAGO_ONLY)
        charge_filter = services.charge_filter_delete(
            self.organization, plan_code=code, charge_code=charge_code, filter_id=filter_id
        )
        return Response(_filter_body(charge_filter))


# --- plan metadata ----------------------------------------------------------------------------


class PlanMetadataView(OrganizationAPIView):
    resource_name = "plan"

    @extend_schema(
        operation_id="plan_metadata_replace", tags=["Plans"], request=s.MetadataEnvelope, responses=s.MetadataEnvelope
    )
    def post(self, request: Request, code: str) -> Response:
        metadata = services.plan_metadata_set(
            self.organization, code=code, metadata=metadata_body(request, empty_keys=False), merge=False
        )
        return Response({"metadata": metadata})

    @extend_schema(
        operation_id="plan_metadata_merge", tags=["Plans"], request=s.MetadataEnvelope, responses=s.MetadataEnvelope
    )
    def patch(self, request: Request, code: str) -> Response:
        metadata = services.plan_metadata_set(
            self.organization, code=code, metadata=metadata_body(request, empty_keys=False), merge=True
        )
        return Response({"metadata": metadata})

    @extend_schema(operation_id="plan_metadata_destroy_all", tags=["Plans"], responses=s.MetadataEnvelope)
    def delete(self, request: Request, code: str) -> Response:
        return Response({"metadata": services.plan_metadata_delete(self.organization, code=code)})


class PlanMetadataKeyView(OrganizationAPIView):
    resource_name = "plan"

    @extend_schema(operation_id="plan_metadata_destroy_key", tags=["Plans"], responses=s.MetadataEnvelope)
    def delete(self, request: Request, code: str, key: str) -> Response:
        metadata = services.plan_metadata_delete(self.organization, code=code, key=key)
        return Response({"metadata": metadata})
