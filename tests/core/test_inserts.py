"""`billing_project.core.inserts.insert_new`: the row `save()` would write, or `save()` itself."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Concat
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLogEntry
from billing_project.core import inserts
from billing_project.core.inserts import _statement, insert_new
from customers.models import Customer, CustomerMetadata
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def _entry(customer: Customer, **extra) -> AuditLogEntry:
    values = {
        "organization_id": customer.organization_id,
        "actor_type": "api_key",
        "actor_id": "k1",
        "actor_label": "api_key:abcd",
        "content_type": ContentType.objects.get_for_model(Customer),
        "object_id": str(customer.pk),
        "object_repr": "Ada",
        "action": "update",
        "changes": {"name": ["A", "Ada"], "shipping_address": [None, {"city": "Paris", "n": [1, "é"]}]},
        "ip_address": "127.0.0.1",
        "request_id": "r1",
    }
    return AuditLogEntry(**{**values, **extra})


def _columns(pk) -> dict:
    row = AuditLogEntry.objects.filter(pk=pk).values().get()
    return {key: value for key, value in row.items() if key not in ("id", "created_at", "updated_at")}


def test_the_row_is_what_save_writes():
    customer = CustomerFactory()
    fast, saved = _entry(customer), _entry(customer)
    with CaptureQueriesContext(connection) as captured:
        insert_new(fast)
    saved.save()
    assert len(captured.captured_queries) == 1 and captured.captured_queries[0]["sql"].startswith("INSERT INTO")
    assert _columns(fast.pk) == _columns(saved.pk)
    stored = AuditLogEntry.objects.get(pk=fast.pk)
    assert (stored.created_at, stored.updated_at) == (fast.created_at, fast.updated_at)  # auto_now(_add) set
    assert fast._state.adding is False and fast._state.db == "default"
    assert _statement(AuditLogEntry, "default") is not None
    # None, empty text and an IPv6 address go through the same preparation.
    empty, empty_saved = _entry(customer, ip_address=None, changes={}), _entry(customer, ip_address=None, changes={})
    insert_new(empty)
    empty_saved.save()
    assert _columns(empty.pk) == _columns(empty_saved.pk)


def test_signals_expressions_and_custom_saves_are_those_of_save(monkeypatch):
    customer = CustomerFactory()
    seen = []

    def before(sender, instance, raw, using, update_fields, **kwargs):
        seen.append(("pre_save", instance.pk, instance._state.adding, raw, using, update_fields))
        instance.object_repr = "set by a receiver"

    def after(sender, instance, created, raw, using, update_fields, **kwargs):
        seen.append(("post_save", instance.pk, instance._state.adding, created, raw, using, update_fields))

    pre_save.connect(before, sender=AuditLogEntry, dispatch_uid="test_inserts")
    post_save.connect(after, sender=AuditLogEntry, dispatch_uid="test_inserts")
    try:
        entry = _entry(customer)
        insert_new(entry)
    finally:
        pre_save.disconnect(dispatch_uid="test_inserts", sender=AuditLogEntry)
        post_save.disconnect(dispatch_uid="test_inserts", sender=AuditLogEntry)
    assert seen == [
        ("pre_save", entry.pk, True, False, "default", None),
        ("post_save", entry.pk, False, True, False, "default", None),
    ]
    assert AuditLogEntry.objects.get(pk=entry.pk).object_repr == "set by a receiver"

    expression = _entry(customer)
    expression.object_repr = Concat(Value("by "), Value("SQL"))
    insert_new(expression)  # the compiler writes expressions
    assert AuditLogEntry.objects.get(pk=expression.pk).object_repr == "by SQL"

    # A model whose save() is its own is never bypassed.
    monkeypatch.setattr(AuditLogEntry, "save", lambda self, *args, **kwargs: seen.append("custom save"))
    monkeypatch.setattr(inserts, "_statements", {})
    insert_new(_entry(customer))
    assert seen[-1] == "custom save" and inserts._statements == {(AuditLogEntry, connection.vendor): None}


def test_a_new_customer_is_audited_as_by_save():
    """The customer upsert inserts a new customer with insert_new: the audit trail's receivers see
    a creation, as with save()."""
    organization = CustomerFactory().organization
    values = {"organization": organization, "name": "Ada", "currency": "EUR", "shipping_address": {"city": "Paris"}}
    fast = Customer(external_id="fast", sequential_id=10, **values)
    saved = Customer(external_id="saved", sequential_id=11, **values)
    insert_new(fast)
    saved.save()
    entries = {e.object_id: e for e in AuditLogEntry.objects.filter(action="create", object_id__in=[fast.pk, saved.pk])}
    assert set(entries) == {str(fast.pk), str(saved.pk)}
    ignored = ("external_id", "sequential_id")
    changes = {key: value for key, value in entries[str(fast.pk)].changes.items() if key not in ignored}
    expected = {key: value for key, value in entries[str(saved.pk)].changes.items() if key not in ignored}
    assert changes == expected and changes["shipping_address"] == [None, {"city": "Paris"}]
    assert entries[str(fast.pk)].changes["external_id"] == [None, "fast"]


def test_a_failed_insert_marks_the_transaction_for_rollback():
    customer = CustomerFactory()
    CustomerMetadata.objects.create(customer=customer, key="k", value="v")
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            insert_new(CustomerMetadata(customer=customer, key="k", value="again"))
        assert transaction.get_rollback() is True  # as save() leaves it: the block rolls back
    assert list(CustomerMetadata.objects.filter(customer=customer).values_list("value", flat=True)) == ["v"]
