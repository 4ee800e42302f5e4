"""The audit trail: who changed what, when and from where, for API keys, staff and tasks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from celery import shared_task
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.context import ACTOR_SYSTEM, Actor, reset_actor, set_actor
from audit.models import AuditLogEntry
from customers.models import ApiKey, Customer
from customers.roles import FINANCE_VIEWER
from tests.factories.catalog import PlanFactory, TaxFactory
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def entries_for(obj):
    return AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)), object_id=str(obj.pk)
    ).order_by("created_at")


def test_api_key_create_and_update_recorded_with_the_key_as_actor(tenant):
    api_key = ApiKey.objects.get(organization=tenant.organization)
    response = tenant.client.post(
        "/api/v1/customers",
        {"customer": {"external_id": "cus_audit", "name": "Before Ltd", "currency": "EUR"}},
        format="json",
        HTTP_X_REQUEST_ID="req-audit-1",
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 200, response.content
    customer = Customer.objects.get(organization=tenant.organization, external_id="cus_audit")
    created = entries_for(customer).get(action="create")
    assert created.actor_type == "api_key"
    assert created.actor_id == str(api_key.pk)
    assert created.actor_label == f"api_key:{api_key.prefix}"
    assert created.organization_id == tenant.organization.id
    assert created.ip_address == "203.0.113.7"
    assert created.request_id == "req-audit-1"
    assert created.changes["name"] == [None, "Before Ltd"]
    assert created.changes["external_id"] == [None, "cus_audit"]

    response = tenant.client.post(
        "/api/v1/customers",
        {"customer": {"external_id": "cus_audit", "name": "After Ltd"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    updated = entries_for(customer).get(action="update")
    assert updated.actor_label == f"api_key:{api_key.prefix}"
    assert updated.changes["name"] == ["Before Ltd", "After Ltd"]
    assert "updated_at" not in updated.changes


def test_api_records_are_scoped_to_the_calling_tenant(tenant, other_tenant):
    for t, external_id in ((tenant, "cus_a"), (other_tenant, "cus_b")):
        response = t.client.post("/api/v1/customers", {"customer": {"external_id": external_id}}, format="json")
        assert response.status_code == 200
    customer_type = ContentType.objects.get_for_model(Customer)
    mine = AuditLogEntry.objects.filter(organization=tenant.organization, content_type=customer_type)
    theirs = AuditLogEntry.objects.filter(organization=other_tenant.organization, content_type=customer_type)
    assert {e.changes["external_id"][1] for e in mine if e.action == "create"} == {"cus_a"}
    assert {e.changes["external_id"][1] for e in theirs if e.action == "create"} == {"cus_b"}
    other_key = ApiKey.objects.get(organization=other_tenant.organization)
    assert not mine.filter(actor_id=str(other_key.pk)).exists()


def test_money_and_decimals_are_exact_strings_and_no_op_saves_are_skipped():
    plan = PlanFactory(amount_cents=1000)
    plan.amount_cents = 123456789012
    plan.trial_period = Decimal("1.5")
    plan.save()
    update = entries_for(plan).get(action="update")
    assert update.changes["amount_cents"] == [1000, 123456789012]
    assert update.changes["trial_period"] == ["0.00000", "1.5"]
    assert update.actor_type == ACTOR_SYSTEM and update.actor_label == "system"
    plan.refresh_from_db()
    plan.save()  # nothing changed
    assert entries_for(plan).filter(action="update").count() == 1

    tax = TaxFactory(rate=Decimal("20.0000"))
    tax.rate = Decimal("20.5")
    tax.save(update_fields=["rate"])
    assert entries_for(tax).get(action="update").changes == {"rate": ["20.0000", "20.5"]}


def test_delete_recorded_with_before_values():
    tax = TaxFactory(rate=Decimal("7.2500"))
    tax_id = tax.pk
    tax.delete()
    entry = AuditLogEntry.objects.get(object_id=str(tax_id), action="delete")
    assert entry.changes["rate"] == ["7.2500", None]


def test_rolled_back_change_leaves_no_record():
    customer = CustomerFactory(name="Stable")
    with pytest.raises(RuntimeError), transaction.atomic():
        customer.name = "Rolled back"
        customer.save()
        raise RuntimeError
    assert not entries_for(customer).filter(action="update").exists()


def test_api_key_secret_is_never_recorded(tenant):
    entries = AuditLogEntry.objects.filter(content_type=ContentType.objects.get_for_model(ApiKey))
    assert entries.exists()
    for entry in entries:
        assert "key_hash" not in entry.changes


@shared_task(name="tests.audit.rename_customer")
def rename_customer(customer_id: str, name: str) -> None:
    customer = Customer.objects.get(pk=customer_id)
    customer.name = name
    customer.save()


def test_task_changes_are_recorded_as_system_with_the_task_name():
    customer = CustomerFactory(name="Old")
    rename_customer.apply(args=(str(customer.pk), "Renamed by task"))
    entry = entries_for(customer).get(action="update")
    assert entry.actor_type == "system"
    assert entry.actor_label == "task:tests.audit.rename_customer"
    assert entry.changes["name"] == ["Old", "Renamed by task"]
    # The actor is unbound after the task: later changes are plain `system`.
    customer.name = "After"
    customer.save()
    assert entries_for(customer).filter(action="update").last().actor_label == "system"


def test_explicit_actor_binding():
    token = set_actor(Actor("system", label="command:run_billing"))
    try:
        customer = CustomerFactory()
    finally:
        reset_actor(token)
    assert entries_for(customer).get(action="create").actor_label == "command:run_billing"


def _admin_post_customer(client, customer, **changes):
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    form = client.get(url).context["adminform"].form
    data = {
        key: ("" if value is None else value)
        for key, value in form.initial.items()
        if not isinstance(value, dict | list)
    }
    data.update(
        {
            "shipping_address": "{}",
            "provider_settings": "{}",
            "metadata-TOTAL_FORMS": "0",
            "metadata-INITIAL_FORMS": "0",
            "finalize_zero_amount_invoice": "inherit",
        }
    )
    data.update(changes)
    return client.post(url, data, REMOTE_ADDR="198.51.100.4")


def test_admin_change_recorded_with_the_staff_user(client):
    user = User.objects.create_superuser("auditor", "a@example.test", "pw")
    client.force_login(user)
    customer = CustomerFactory(name="Admin Before")
    response = _admin_post_customer(client, customer, name="Admin After")
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = entries_for(customer).get(action="update")
    assert entry.actor_type == "user"
    assert entry.actor_id == str(user.pk)
    assert entry.actor_label == "auditor"
    assert entry.ip_address == "198.51.100.4"
    assert entry.organization_id == customer.organization_id
    assert entry.changes["name"] == ["Admin Before", "Admin After"]


def test_audit_admin_is_read_only_searchable_and_linked_from_history(client):
    customer = CustomerFactory(name="History Co")
    entry = entries_for(customer).get()
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(viewer)
    changelist = reverse("admin:audit_auditlogentry_changelist")
    page = client.get(changelist, {"q": str(customer.pk)})
    assert page.status_code == 200
    assert b"History Co" in page.content
    assert client.get(changelist, {"q": str(customer.organization_id)}).status_code == 200
    assert client.get(changelist, {"action__exact": "create", "actor_type__exact": "system"}).status_code == 200
    detail = client.get(reverse("admin:audit_auditlogentry_change", args=[entry.pk]))
    assert detail.status_code == 200
    assert b"History Co" in detail.content
    assert client.get(reverse("admin:audit_auditlogentry_add")).status_code == 403
    response = client.post(reverse("admin:audit_auditlogentry_delete", args=[entry.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert AuditLogEntry.objects.filter(pk=entry.pk).exists()

    history = client.get(reverse("admin:customers_customer_history", args=[customer.pk]))
    assert history.status_code == 302
    assert history["Location"] == f"{changelist}?object_id={customer.pk}"
    filtered = client.get(history["Location"])
    assert filtered.status_code == 200
    assert str(customer.pk) in filtered.content.decode()


def test_cleanup_deletes_only_entries_older_than_the_retention(settings, capsys):
    settings.AUDIT_RETENTION_DAYS = 30
    old_customer = CustomerFactory()
    new_customer = CustomerFactory()
    AuditLogEntry.objects.filter(object_id=str(old_customer.pk)).update(
        created_at=timezone.now() - dt.timedelta(days=31)
    )
    kept = AuditLogEntry.objects.exclude(object_id=str(old_customer.pk)).count()

    call_command("audit_cleanup", "--dry-run")
    assert "would delete 1 audit log entries older than 30 days" in capsys.readouterr().out
    assert AuditLogEntry.objects.filter(object_id=str(old_customer.pk)).exists()

    call_command("audit_cleanup", "--older-than-days", "40")
    assert "deleted 0" in capsys.readouterr().out

    call_command("audit_cleanup")
    assert "deleted 1" in capsys.readouterr().out
    assert not AuditLogEntry.objects.filter(object_id=str(old_customer.pk)).exists()
    assert AuditLogEntry.objects.filter(object_id=str(new_customer.pk)).exists()
    assert AuditLogEntry.objects.count() == kept


def test_cleanup_task_uses_the_default_retention():
    from audit.tasks import audit_cleanup_task

    customer = CustomerFactory()
    AuditLogEntry.objects.update(created_at=timezone.now() - dt.timedelta(days=1096))
    assert audit_cleanup_task.apply().get() >= 1
    assert not AuditLogEntry.objects.filter(object_id=str(customer.pk)).exists()


def test_cleanup_rejects_negative_age():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("audit_cleanup", "--older-than-days", "-1")
