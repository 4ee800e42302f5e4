"""Lago's subscription object (docs/lago-compatibility.md §1.3, §3), shared by the API and webhooks."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing_project.core.api.serializers import OutputSerializer
from billing_project.core.api.shapes import schema_serializer
from catalog.api.serializers import PlanOutput
from customers.entities import customer_billing_entity, sections_by_ids
from customers.payment_choice import PaymentMethodChoiceShape
from customers.representation import AppliedSectionShape, applied_sections_payload
from subscriptions import selectors
from subscriptions.models import Subscription, SubscriptionStatus


class SubscriptionOutput(OutputSerializer):
    lago_id = serializers.UUIDField(source="id")
    external_id = serializers.CharField()
    lago_customer_id = serializers.UUIDField(source="customer_id")
    external_customer_id = serializers.CharField(source="customer.external_id")
    name = serializers.CharField()
    plan_code = serializers.CharField(source="plan.code")
    lago_plan_id = serializers.UUIDField(source="plan_id")
    plan_amount_cents = serializers.IntegerField(source="plan.amount_cents")
    plan_amount_currency = serializers.CharField(source="plan.amount_currency")
    status = serializers.CharField()
    billing_time = serializers.CharField()
    subscription_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    trial_ended_at = serializers.DateTimeField(allow_null=True)
    ending_at = serializers.DateTimeField(allow_null=True)
    terminated_at = serializers.DateTimeField(allow_null=True)
    canceled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    previous_plan_code = serializers.SerializerMethodField()
    next_plan_code = serializers.SerializerMethodField()
    downgrade_plan_date = serializers.SerializerMethodField()
    current_billing_period_started_at = serializers.SerializerMethodField()
    current_billing_period_ending_at = serializers.SerializerMethodField()
    next_billing_at = serializers.SerializerMethodField()
    on_termination_credit_note = serializers.CharField(allow_null=True)
    on_termination_invoice = serializers.CharField()
    termination_reason = serializers.SerializerMethodField()
    cancellation_reason = serializers.SerializerMethodField()
    consolidate_invoice = serializers.SerializerMethodField()
    activation_rules = serializers.SerializerMethodField()
    payment_method = serializers.SerializerMethodField()
    purchase_order_number = serializers.SerializerMethodField()

    def get_previous_plan_code(self, obj: Subscription) -> str | None:
        previous = obj.previous_subscription
        return previous.plan.code if previous is not None else None

    def get_next_plan_code(self, obj: Subscription) -> str | None:
        following = selectors.pending_next(obj) if obj.status == SubscriptionStatus.ACTIVE else None
        if following is None and obj.status == SubscriptionStatus.TERMINATED:
            following = selectors.successor(obj)
        return following.plan.code if following is not None else None

    def get_downgrade_plan_date(self, obj: Subscription) -> str | None:
        value = selectors.downgrade_plan_date(obj)
        return value.isoformat() if value is not None else None

    def _period(self, obj: Subscription) -> Any:
        if obj.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TERMINATED):
            return None
        at = self.context.get("at") or timezone.now()
        return selectors.current_period(obj, at)

    def get_current_billing_period_started_at(self, obj: Subscription) -> str | None:
        period = self._period(obj)
        return serializers.DateTimeField().to_representation(period.service.start) if period else None

    def get_current_billing_period_ending_at(self, obj: Subscription) -> str | None:
        # Lago's inclusive end (`...23:59:59` local); bxb computes with the half-open end.
        period = self._period(obj)
        return serializers.DateTimeField().to_representation(period.full.to_datetime) if period else None

    def get_next_billing_at(self, obj: Subscription) -> str | None:
        value = selectors.next_billing_at(obj, self.context.get("at") or timezone.now())
        return serializers.DateTimeField().to_representation(value) if value else None

    def get_termination_reason(self, obj: Subscription) -> str | None:
        return obj.termination_reason or None

    def get_cancellation_reason(self, obj: Subscription) -> str | None:
        return obj.cancellation_reason or None

    def get_consolidate_invoice(self, obj: Subscription) -> bool:
        # bxb bills a customer's subscriptions due the same day on one invoice (Lago's default, true).
        return True

    def get_activation_rules(self, obj: Subscription) -> list[Any]:
        return []

    @extend_schema_field(schema_serializer(PaymentMethodChoiceShape)())
    def get_payment_method(self, obj: Subscription) -> PaymentMethodChoiceShape:
        return obj.payment_method_choice.payload()

    def get_purchase_order_number(self, obj: Subscription) -> str | None:
        return obj.purchase_order_number or None


class SubscriptionWithPlanOutput(SubscriptionOutput):
    """Create and show responses also carry the full plan (a Lago extra the client ignores) and, as
    Lago's, the invoice custom sections chosen for its invoices (not in lists)."""

    plan = PlanOutput()
    applied_invoice_custom_sections = serializers.SerializerMethodField()
    billing_entity_code = serializers.SerializerMethodField(
        help_text="The entity that bills its invoices: its own `billing_entity_code`, else its customer's."
    )

    def get_billing_entity_code(self, obj: Subscription) -> str:
        if obj.billing_entity_id is not None:
            return str(obj.billing_entity.code)  # type: ignore[union-attr]
        return customer_billing_entity(obj.customer).code

    @extend_schema_field(schema_serializer(AppliedSectionShape)(many=True))
    def get_applied_invoice_custom_sections(self, obj: Subscription) -> list[AppliedSectionShape]:
        return applied_sections_payload(sections_by_ids(obj.organization_id, obj.section_choice.section_ids))


def subscription_payload(subscription: Subscription) -> dict[str, Any]:
    return dict(SubscriptionOutput(subscription).data)
