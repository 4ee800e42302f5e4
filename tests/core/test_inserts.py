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


# --- update_existing: save() of a row read from the database ---------------------------------------


def _customer_columns(pk) -> dict:
    row = Customer.objects.filter(pk=pk).values().get()
    ignored = ("id", "created_at", "updated_at", "external_id", "sequential_id", "slug")
    return {key: value for key, value in row.items() if key not in ignored}


def _changed(customer: Customer) -> None:
    customer.name, customer.email, customer.shipping_address = "Ada L.", "", {"city": "Paris", "n": [1, "é"]}
    customer.timezone, customer.net_payment_term, customer.billing_entity = None, 30, None


def test_an_update_writes_what_save_writes_with_the_same_signals_and_audit():
    organization = CustomerFactory().organization
    fast = CustomerFactory(organization=organization, name="Ada", email="ada@example.test")
    saved = CustomerFactory(organization=organization, name="Ada", email="ada@example.test")
    from billing_project.core.rowimages import remember_locked_row

    seen: list[tuple[object, ...]] = []

    def before(sender, instance, raw, using, update_fields, **kwargs):
        seen.append(("pre_save", instance.pk, instance._state.adding, raw, using, update_fields))

    def after(sender, instance, created, raw, using, update_fields, **kwargs):
        seen.append(("post_save", instance.pk, instance._state.adding, created, raw, using, update_fields))

    pre_save.connect(before, sender=Customer, dispatch_uid="test_updates")
    post_save.connect(after, sender=Customer, dispatch_uid="test_updates")
    try:
        for customer, write in ((fast, inserts.update_existing), (saved, Customer.save)):
            with transaction.atomic():
                row = Customer.objects.select_for_update().get(pk=customer.pk)
                remember_locked_row(row)
                _changed(row)
                before_update = row.updated_at
                if write is inserts.update_existing:
                    with CaptureQueriesContext(connection) as captured:
                        write(row)
                    statements = [q["sql"] for q in captured.captured_queries if "audit_" not in q["sql"]]
                    assert len(statements) == 1 and statements[0].startswith('UPDATE "customers_customer" SET')
                else:
                    write(row)
                assert row.updated_at > before_update  # auto_now, as save() sets it
            assert Customer.objects.get(pk=customer.pk).updated_at == row.updated_at
    finally:
        pre_save.disconnect(dispatch_uid="test_updates", sender=Customer)
        post_save.disconnect(dispatch_uid="test_updates", sender=Customer)
    assert seen == [
        ("pre_save", fast.pk, False, False, "default", None),
        ("post_save", fast.pk, False, False, False, "default", None),
        ("pre_save", saved.pk, False, False, "default", None),
        ("post_save", saved.pk, False, False, False, "default", None),
    ]
    assert _customer_columns(fast.pk) == _customer_columns(saved.pk)
    audits = {
        e.object_id: e.changes for e in AuditLogEntry.objects.filter(action="update", object_id__in=[fast.pk, saved.pk])
    }
    assert audits[str(fast.pk)] == audits[str(saved.pk)] and audits[str(fast.pk)]["name"] == ["Ada", "Ada L."]
    assert inserts._updates[(Customer, connection.vendor)] is not None


def test_deferred_rows_expressions_and_vanished_rows_go_through_save():
    customer = CustomerFactory(name="Ada")
    partial = Customer.objects.only("id", "name").get(pk=customer.pk)
    partial.name = "Only the name"
    with CaptureQueriesContext(connection) as captured:
        inserts.update_existing(partial)  # save() updates the loaded fields alone
    update = next(q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE"))
    assert '"email"' not in update and Customer.objects.get(pk=customer.pk).name == "Only the name"

    row = Customer.objects.get(pk=customer.pk)
    row.name = Concat(Value("by "), Value("SQL"))
    inserts.update_existing(row)
    assert Customer.objects.get(pk=customer.pk).name == "by SQL"

    gone = Customer.objects.get(pk=customer.pk)
    Customer.objects.filter(pk=customer.pk).delete()
    gone.name = "back"
    inserts.update_existing(gone)  # save() inserts a row its UPDATE did not find
    assert Customer.objects.get(pk=customer.pk).name == "back"
