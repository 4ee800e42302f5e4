"""Finance console: subscriptions with their current period, and the transition ledger.

Rows change only through the services: terminate, cancel a pending subscription, apply a
scheduled downgrade now, and change a fixed charge's units are admin actions with a confirmation
page (the units change shows first what it bills: `hooks.fixed_charge_preview`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from billing_project.core import money
from billing_project.core.console import ActionsOnlyAdmin, ReadOnlyAdmin, ReadOnlyInline
from billing_project.core.each_row import apply_each
from billing_project.core.errors import DomainError, ValidationFailure
from catalog.inputs import FixedChargeFields
from catalog.models import FixedCharge, Plan
from catalog.services.fixed_charges import fixed_charge_units
from customers.admin_columns import ChoiceColumns
from customers.models import Customer
from customers.payment_choice import PaymentMethodInput
from subscriptions import hooks, selectors, services
from subscriptions.inputs import SubscriptionCreate
from subscriptions.models import FixedChargeUnits, Subscription, SubscriptionStatus, SubscriptionTransition
from subscriptions.services.fixed_charges import subscription_fixed_charge_update


class TransitionInline(ReadOnlyInline):
    model = SubscriptionTransition
    fields = ("occurred_at", "event", "from_status", "to_status", "reason", "actor")
    readonly_fields = fields
    ordering = ("-occurred_at",)


class FixedChargeUnitsInline(ReadOnlyInline):
    """The subscription's quantities of its fixed charges, as recorded (docs/subscriptions.md)."""

    model = FixedChargeUnits
    fields = ("fixed_charge", "units", "timestamp", "created_at")
    readonly_fields = fields
    ordering = ("timestamp", "created_at")
    verbose_name = "fixed charge units"
    verbose_name_plural = "fixed charge units (each from its timestamp on)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[FixedChargeUnits]:
        return super().get_queryset(request).select_related("fixed_charge__add_on")


def _confirm(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Subscription],
    *,
    action: str,
    title: str,
    explanation: str,
    effect: Callable[[Subscription], str],
    apply: Callable[[Subscription], Subscription],
) -> HttpResponse | None:
    """Show what will change; on confirmation call the service for each row and report."""
    if request.POST.get("confirm") != "yes":
        context = {
            **modeladmin.admin_site.each_context(request),
            "opts": modeladmin.model._meta,
            "title": title,
            "explanation": explanation,
            "rows": [{"subscription": sub, "effect": effect(sub)} for sub in queryset],
            "queryset": queryset,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/subscriptions/confirm_action.html", context)
    apply_each(
        modeladmin,
        request,
        queryset,
        apply,
        title=title,
        label=lambda subscription: subscription.external_id,
        outcome=lambda _, result: f"{result.external_id} → {result.status} on {result.plan.code}",
    )
    return None


class StartSubscriptionForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.filter(deleted_at__isnull=True).select_related("organization")
    )
    plan = forms.ModelChoiceField(queryset=Plan.live.filter(parent__isnull=True).select_related("organization"))
    external_id = forms.CharField(max_length=255)
    name = forms.CharField(max_length=255, required=False)
    billing_time = forms.ChoiceField(choices=[("calendar", "calendar"), ("anniversary", "anniversary")])
    subscription_at = forms.DateTimeField(required=False, help_text="UTC; empty means now. Future → pending.")
    bill_past_periods = forms.BooleanField(
        required=False,
        help_text="With a start in the past: bill every period since then (at most "
        "SUBSCRIPTION_MAX_PAST_PERIODS). Unchecked, billing starts with the current period.",
    )
    ending_at = forms.DateTimeField(required=False, help_text="UTC; terminates automatically then.")
    downgrade_now = forms.BooleanField(required=False, help_text="For a downgrade: apply now, not at the period end.")
    payment_method = forms.ChoiceField(
        choices=[("provider", "provider"), ("manual", "manual (never charged automatically)")],
        initial="provider",
        required=False,
        help_text="How its invoices are collected (docs/payments.md §12).",
    )
    payment_method_id = forms.UUIDField(
        required=False,
        help_text="With provider: the lago_id of one of the customer's saved methods; empty: its default.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data; the stubs allow None
        customer, plan = data.get("customer"), data.get("plan")
        if customer and plan and customer.organization_id != plan.organization_id:
            raise forms.ValidationError("The plan belongs to another organization.")
        return data


class FixedChargeUnitsForm(forms.Form):
    """A subscription's new units of one of its fixed charges, applied at once or from its next period."""

    fixed_charge = forms.ChoiceField()
    units = forms.CharField(max_length=40)
    apply_units_immediately = forms.BooleanField(
        required=False, initial=True, help_text="Unchecked: from the subscription's next period."
    )

    def __init__(self, *args: Any, fixed_charges: list[FixedCharge], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["fixed_charge"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (f.code, f"{f.code} ({f.add_on.name}, {'in advance' if f.pay_in_advance else 'in arrears'}"
             f"{', prorated' if f.prorated else ''})")
            for f in fixed_charges
        ]  # fmt: skip

    def clean_units(self) -> Any:
        units = fixed_charge_units(self.cleaned_data["units"])
        if units is None:
            raise forms.ValidationError("Units: a decimal from 0, at most 10 decimals.")
        return units


def _preview_lines(preview: hooks.UnitsChangePreview, *, immediately: bool) -> list[str]:
    """What the console shows before a units change is confirmed (amounts before taxes)."""
    fmt = money.format_amount
    lines = [f"Units held now: {preview.held_units.normalize():f} → {preview.units.normalize():f}"]
    if not immediately:
        return [*lines, "From the next period: nothing is billed or credited now."]
    if preview.period_fee_after_cents is not None:
        when = preview.period_end.strftime("%Y-%m-%d") if preview.period_end else "the period end"
        return [
            *lines,
            f"Billed now: {fmt(0, preview.currency)} (paid in arrears)",
            f"This period's fee, billed on {when}: {fmt(preview.period_fee_before_cents or 0, preview.currency)}"
            f" → {fmt(preview.period_fee_after_cents, preview.currency)}",
        ]
    if preview.billed_now_cents:
        return [
            *lines,
            f"Billed now (prorated increase of {preview.billed_now_units.normalize():f} units): "
            f"{fmt(preview.billed_now_cents, preview.currency)}",
        ]
    return [*lines, f"Billed now: {fmt(0, preview.currency)}; credited: {fmt(0, preview.currency)} (no increase)"]


@admin.register(Subscription)
class SubscriptionAdmin(ChoiceColumns, ActionsOnlyAdmin):
    added_here = True  # the add page is a form calling subscription_create
    list_display = (
        "external_id",
        "customer",
        "plan_code",
        "plan_amount",
        "status",
        "billing_time",
        "started_at",
        "current_period",
        "next_billing_date",
    )
    list_filter = ("status", "billing_time", ("plan__code", admin.AllValuesFieldListFilter))
    search_fields = ("external_id", "customer__external_id", "customer__email", "customer__name", "name")
    list_select_related = ("customer", "customer__organization", "plan", "organization")
    show_full_result_count = False
    date_hierarchy = None
    ordering = ("-created_at",)
    actions = ["terminate", "cancel_pending", "apply_downgrade_now", "change_fixed_charge_units"]
    inlines = [TransitionInline, FixedChargeUnitsInline]
    readonly_fields = (
        "id",
        "organization",
        "customer",
        "plan",
        "previous_subscription",
        "external_id",
        "name",
        "status",
        "billing_time",
        "subscription_at",
        "activation_at",
        "started_at",
        "trial_ends_at",
        "trial_ended_at",
        "ending_at",
        "terminated_at",
        "canceled_at",
        "termination_reason",
        "cancellation_reason",
        "on_termination_credit_note",
        "on_termination_invoice",
        "payment_method_chosen",
        "billing_entity",
        "purchase_order_number",
        "invoice_sections_chosen",
        "current_period",
        "next_billing_date",
        "termination_alerts_sent",
        "created_at",
        "updated_at",
        "usage_monitoring_summary",
    )
    fields = readonly_fields

    @admin.display(description="usage alerts and thresholds")
    def usage_monitoring_summary(self, obj: Subscription) -> str:
        return hooks.usage_monitoring_summary.get()(obj)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """Start a subscription (or change its plan) through `subscription_create`."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = StartSubscriptionForm(request.POST or None, initial={"customer": request.GET.get("customer")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            customer = data["customer"]
            payload = SubscriptionCreate(
                external_customer_id=customer.external_id,
                plan_code=data["plan"].code,
                external_id=data["external_id"],
                name=data["name"] or None,
                billing_time=data["billing_time"],
                subscription_at=data["subscription_at"],
                bill_past_periods=bool(data["bill_past_periods"]),
                ending_at=data["ending_at"],
                downgrade_timing="immediate" if data["downgrade_now"] else None,
                payment_method=PaymentMethodInput(
                    payment_method_type=data["payment_method"] or "provider",
                    payment_method_id=data["payment_method_id"],
                ),
            )
            try:
                subscription = services.subscription_create(customer.organization, payload)
            except ValidationFailure as exc:
                for field, codes in exc.details.items():
                    form.add_error(field if field in form.fields else None, f"{field}: {', '.join(map(str, codes))}")
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    f"{subscription.external_id}: {subscription.status} on {subscription.plan.code}",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:subscriptions_subscription_change", args=[subscription.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Start a subscription",
            "form": form,
        }
        return TemplateResponse(request, "admin/subscriptions/start_subscription.html", context)

    @admin.display(description="Plan", ordering="plan__code")
    def plan_code(self, obj: Subscription) -> str:
        return f"{obj.plan.code} (override)" if obj.plan.parent_id else obj.plan.code

    @admin.display(description="Amount")
    def plan_amount(self, obj: Subscription) -> str:
        return f"{money.format_amount(obj.plan.amount_cents, obj.plan.amount_currency)} / {obj.plan.interval}"

    @admin.display(description="Current period")
    def current_period(self, obj: Subscription) -> str:
        if obj.status != SubscriptionStatus.ACTIVE:
            return "—"
        period = selectors.current_period(obj)
        if period is None:
            return "—"
        tz = selectors.timezone_of(obj)
        start = period.service.start.astimezone(selectors.periods.zone(tz)).date()
        end = period.full.to_datetime.astimezone(selectors.periods.zone(tz)).date()
        return f"{start} → {end} ({tz})"

    @admin.display(description="Next billing")
    def next_billing_date(self, obj: Subscription) -> str:
        value = selectors.next_billing_at(obj)
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M UTC") if value else "—"

    @admin.action(description="Terminate now", permissions=["change"])
    def terminate(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> HttpResponse | None:
        return _confirm(
            self,
            request,
            queryset,
            action="terminate",
            title="Terminate subscriptions",
            explanation="Active subscriptions end now (a closing invoice follows); pending ones are canceled.",
            effect=lambda sub: (
                "terminate" if sub.status == "active" else "cancel" if sub.status == "pending" else "refused"
            ),
            apply=lambda sub: services.subscription_terminate(sub.organization, sub),
        )

    @admin.action(description="Cancel pending subscription", permissions=["change"])
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> HttpResponse | None:
        return _confirm(
            self,
            request,
            queryset,
            action="cancel_pending",
            title="Cancel pending subscriptions",
            explanation="Pending subscriptions (future starts, scheduled downgrades) are canceled.",
            effect=lambda sub: "cancel" if sub.status == "pending" else "refused (not pending)",
            apply=lambda sub: services.subscription_cancel(sub.organization, sub),
        )

    @admin.action(description="Apply pending downgrade now", permissions=["change"])
    def apply_downgrade_now(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> HttpResponse | None:
        def effect(sub: Subscription) -> str:
            following = selectors.pending_next(sub)
            if following is not None:
                return f"switch to {following.plan.code} now; unused in-advance days credited"
            if sub.status == "pending" and sub.previous_subscription_id:
                return f"switch to {sub.plan.code} now"
            return "refused (no scheduled downgrade)"

        return _confirm(
            self,
            request,
            queryset,
            action="apply_downgrade_now",
            title="Apply downgrades now",
            explanation="The cheaper plan starts today instead of at the period end.",
            effect=effect,
            apply=lambda sub: services.subscription_downgrade_apply_now(sub.organization, sub),
        )

    @admin.action(description="Change fixed charge units", permissions=["change"])
    def change_fixed_charge_units(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> HttpResponse | None:
        """One active subscription: a form (fixed charge, units, at once or not), then a preview of
        what the change bills or credits, then the change (`subscription_fixed_charge_update`, as
        `PUT /subscriptions/{external_id}/fixed_charges/{code}`)."""
        subs = list(queryset.select_related("plan", "customer", "organization")[:2])
        if len(subs) != 1 or subs[0].status != SubscriptionStatus.ACTIVE:
            self.message_user(request, "Select one active subscription.", messages.ERROR)
            return None
        sub = subs[0]
        fixed_charges = list(FixedCharge.live.filter(plan_id=sub.plan_id).select_related("add_on").order_by("code"))
        if not fixed_charges:
            self.message_user(request, f"{sub.external_id}: its plan has no fixed charges.", messages.ERROR)
            return None
        step = request.POST.get("step")
        form = FixedChargeUnitsForm(request.POST if step else None, fixed_charges=fixed_charges)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Change fixed charge units of {sub.external_id}",
            "subscription": sub,
            "queryset": [sub],
            "action": "change_fixed_charge_units",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "form": form,
        }
        if not step or not form.is_valid():
            return TemplateResponse(request, "admin/subscriptions/fixed_charge_units.html", context)
        data = form.cleaned_data
        fixed = next(f for f in fixed_charges if f.code == data["fixed_charge"])
        immediately = bool(data["apply_units_immediately"])
        if request.POST.get("confirm") != "yes":
            preview = hooks.fixed_charge_preview.get()(sub, fixed, units=data["units"], at=timezone.now())
            context["lines"] = _preview_lines(preview, immediately=immediately)
            context["button"] = "Yes, change the units"
            return TemplateResponse(request, "admin/subscriptions/fixed_charge_units_preview.html", context)
        try:
            _, held = subscription_fixed_charge_update(
                sub.organization,
                external_id=sub.external_id,
                code=fixed.code,
                data=FixedChargeFields(units=data["units"], apply_units_immediately=immediately),
            )
        except DomainError as exc:
            self.message_user(request, f"Refused: {sub.external_id} ({exc})", messages.ERROR)
            return None
        self.message_user(
            request,
            f"{sub.external_id}: {fixed.code} now {held.normalize():f} units"
            f"{'' if immediately else ' (' + str(data['units'].normalize()) + ' from the next period)'}",
            messages.SUCCESS,
        )
        return None


@admin.register(SubscriptionTransition)
class SubscriptionTransitionAdmin(ReadOnlyAdmin):
    """The audit ledger: read-only."""

    list_display = ("occurred_at", "subscription", "event", "from_status", "to_status", "reason", "actor")
    list_filter = ("event", "to_status")
    search_fields = ("subscription__external_id", "actor")
    list_select_related = ("subscription",)
