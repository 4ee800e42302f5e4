"""Staff roles enforced in every admin page and action, for each of the four groups."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth.models import Group, User
from django.test import RequestFactory
from django.urls import reverse

from customers.roles import BILLING_ADMIN, BILLING_APPS, FINANCE_VIEWER, OPS_APPS, SUPER_ADMIN, SUPPORT_REP
from invoicing.models import Invoice, InvoiceStatus
from subscriptions.models import SubscriptionStatus
from tests.factories.credits import make_one_off_invoice
from tests.factories.customers import CustomerFactory
from tests.factories.subscriptions import SubscriptionFactory

pytestmark = pytest.mark.django_db

MODEL_ADMINS = sorted(
    ((model._meta.app_label, model._meta.model_name) for model in admin.site._registry),
)
SUPPORT_EDITABLE = {("customers", "customer"), ("customers", "customermetadata")}
# Actions that change money, plans or subscriptions: never for a Support Rep or a Finance Viewer.
SENSITIVE_ACTIONS = {
    "void_invoices",
    "finalize_drafts",
    "refresh_drafts",
    "mark_paid",
    "refund_credit_notes",
    "retry_payment",
    "terminate",
    "cancel_pending",
    "apply_downgrade_now",
    "remove",
}


def _user(role: str) -> User:
    user = User.objects.create_user(f"user-{role.replace(' ', '-').lower()}", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # fresh permission cache


def _request(user: User):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _read_only_actions(model_admin: admin.ModelAdmin) -> set[str]:
    """Actions that only read (e.g. download a PDF): they declare `permissions=["view"]` alone."""
    return {
        name
        for func, name, _ in model_admin._get_base_actions()
        if set(getattr(func, "allowed_permissions", ()) or ()) == {"view"}
    }


def _model_admin(app_label: str, model_name: str) -> admin.ModelAdmin:
    return next(
        ma
        for model, ma in admin.site._registry.items()
        if (model._meta.app_label, model._meta.model_name) == (app_label, model_name)
    )


@pytest.mark.parametrize("role", [FINANCE_VIEWER, SUPPORT_REP, BILLING_ADMIN, SUPER_ADMIN])
def test_every_admin_page_and_action_respects_the_role(client, role):
    CustomerFactory()
    user = _user(role)
    client.force_login(user)
    request = _request(user)
    for app_label, model_name in MODEL_ADMINS:
        where = f"{role}: {app_label}.{model_name}"
        model_admin = _model_admin(app_label, model_name)
        in_billing = app_label in BILLING_APPS
        changelist = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
        add = client.get(reverse(f"admin:{app_label}_{model_name}_add"))
        actions = set(model_admin.get_actions(request))
        may_add = model_admin.has_add_permission(request)
        may_change = model_admin.has_change_permission(request)
        may_delete = model_admin.has_delete_permission(request)

        if role == SUPER_ADMIN or in_billing or (role == BILLING_ADMIN and app_label in OPS_APPS):
            assert changelist.status_code == 200, where
        else:
            assert changelist.status_code == 403, where
        if not may_add:
            assert add.status_code == 403, where

        if role == FINANCE_VIEWER:
            assert not (may_add or may_change or may_delete), where
            assert actions <= _read_only_actions(model_admin), f"{where} is offered {actions}"
        elif role == SUPPORT_REP:
            editable = (app_label, model_name) in SUPPORT_EDITABLE
            assert not may_delete, where
            if not editable:
                assert not (may_add or may_change), where
                assert actions <= _read_only_actions(model_admin), f"{where} is offered {actions}"
            assert not (actions & SENSITIVE_ACTIONS), where
        elif role == BILLING_ADMIN and in_billing:
            declared = set(model_admin.get_action_choices(request, default_choices=[]))
            assert {name for name, _ in declared} == actions, where


def test_every_custom_action_declares_its_permissions():
    for model, model_admin in admin.site._registry.items():
        for func, name, _ in model_admin._get_base_actions():
            assert getattr(func, "allowed_permissions", None), f"{model._meta.label}.{name} declares no permission"


def test_billing_admin_gets_the_billing_actions():
    request = _request(_user(BILLING_ADMIN))
    assert {"void_invoices", "finalize_drafts", "create_credit_note", "download_pdf"} <= set(
        _model_admin("invoicing", "invoice").get_actions(request)
    )
    assert {"terminate", "cancel_pending"} <= set(_model_admin("subscriptions", "subscription").get_actions(request))
    assert "refund_credit_notes" in _model_admin("payments", "payment").get_actions(request)


def _post_action(client, url_name, action, obj, **extra):
    return client.post(
        reverse(url_name), {"action": action, helpers.ACTION_CHECKBOX_NAME: [str(obj.pk)], **extra}, follow=True
    )


@pytest.mark.parametrize("role", [FINANCE_VIEWER, SUPPORT_REP])
def test_refused_actions_change_nothing(client, organization, role):
    customer = CustomerFactory(organization=organization)
    invoice = make_one_off_invoice(customer, 1000)
    assert invoice.status == InvoiceStatus.FINALIZED
    subscription = SubscriptionFactory(customer=customer, organization=organization)
    client.force_login(_user(role))

    response = _post_action(client, "admin:invoicing_invoice_changelist", "void_invoices", invoice, confirm="yes")
    assert response.status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.FINALIZED

    client.post(
        reverse("admin:invoicing_invoice_record_payment", args=[invoice.pk]), {"amount": "10", "reference": "x"}
    )
    invoice.refresh_from_db()
    assert invoice.payment_status != "succeeded"

    _post_action(client, "admin:subscriptions_subscription_changelist", "terminate", subscription)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE

    response = _post_action(client, "admin:customers_customer_changelist", "delete_selected", customer, post="yes")
    assert customer.__class__.objects.filter(pk=customer.pk).exists()
    change = client.post(reverse("admin:invoicing_invoice_change", args=[invoice.pk]), {"status": "voided"})
    assert change.status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.FINALIZED
    # Reading still works: the PDF of a finalized invoice.
    pdf = client.get(reverse("admin:invoicing_invoice_pdf", args=[invoice.pk]))
    assert pdf.status_code == 200


def test_billing_admin_voids_through_the_same_action(client, organization):
    customer = CustomerFactory(organization=organization)
    invoice = make_one_off_invoice(customer, 1000)
    client.force_login(_user(BILLING_ADMIN))
    _post_action(client, "admin:invoicing_invoice_changelist", "void_invoices", invoice, confirm="yes")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOIDED
    assert Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.VOIDED).exists()


def test_support_rep_edits_a_customer_but_not_a_subscription(client, organization):
    customer = CustomerFactory(organization=organization)
    subscription = SubscriptionFactory(customer=customer, organization=organization)
    client.force_login(_user(SUPPORT_REP))
    assert client.get(reverse("admin:customers_customer_change", args=[customer.pk])).status_code == 200
    page = client.get(reverse("admin:subscriptions_subscription_change", args=[subscription.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # read-only view
    response = client.post(
        reverse("admin:subscriptions_subscription_change", args=[subscription.pk]), {"name": "changed"}
    )
    assert response.status_code == 403
