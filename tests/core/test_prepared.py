"""`billing_project.core.prepared.PreparedQuery`: compiled once, the same rows as the ORM; locks kept.

Its users' queries are checked where they live (`tests/invoicing/test_prepared_queries.py`,
`tests/customers/test_customer_upsert_cost.py`).
"""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.transaction import TransactionManagementError

from billing_project.core.prepared import PreparedQuery
from customers.models import Customer
from tests.factories.customers import CustomerFactory


@pytest.mark.django_db
def test_a_query_whose_sql_depends_on_its_values_falls_back_to_the_orm(organization):
    # A list whose length changes the SQL cannot be prepared from one probe: the ORM answers.
    customer = CustomerFactory(organization=organization, external_id="solo")
    query = PreparedQuery(lambda p: type(customer).objects.filter(id__in=[p.a, p.a, uuid.uuid4()]), a=uuid.UUID)
    assert [c.pk for c in query.fetch(a=customer.id)] == [customer.pk]
    inlined = PreparedQuery(lambda p: type(customer).objects.filter(external_id="solo").order_by("id")[:1], a=str)
    assert [c.pk for c in inlined.fetch(a="ignored")] == [customer.pk]
    assert list(inlined._compiled.values()) == [False]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_a_locked_read_locks_the_row_and_needs_a_transaction():
    customer = CustomerFactory(external_id="locked")
    query = PreparedQuery(
        lambda p: Customer.objects.select_for_update().filter(organization_id=p.org, external_id=p.ext)[:1],
        org=uuid.UUID,
        ext=str,
    )
    with pytest.raises(TransactionManagementError):  # compiling: the ORM's own refusal
        query.fetch(org=customer.organization_id, ext="locked")
    outcome: list[Exception | None] = []

    def take_the_row() -> None:
        try:
            with transaction.atomic():
                Customer.objects.select_for_update(nowait=True).filter(pk=customer.pk).first()
            outcome.append(None)
        except DatabaseError as exc:  # inspected below
            outcome.append(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        [found] = query.fetch(org=customer.organization_id, ext="locked")
        assert found.pk == customer.pk and found.external_id == "locked"
        [(sql, *_)] = [entry for entry in query._compiled.values() if entry is not False]
        assert sql.rstrip().endswith("FOR UPDATE")
        thread = threading.Thread(target=take_the_row)
        thread.start()
        thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], DatabaseError), outcome  # held by the prepared read
    with pytest.raises(TransactionManagementError):  # compiled, yet still refused outside a transaction
        query.fetch(org=customer.organization_id, ext="locked")
    thread = threading.Thread(target=take_the_row)
    thread.start()
    thread.join(timeout=30)
    assert outcome[1] is None  # released with the transaction


@pytest.mark.django_db
def test_a_deferred_query_gives_the_orms_instances(organization):
    """`defer()`: the values read land on the fields the ORM puts them on; the others stay deferred
    (read on access, as the ORM's instances would)."""
    customer = CustomerFactory(organization=organization, external_id="d1", name="Deferred", city="Lyon")
    build = lambda p: Customer.objects.filter(organization_id=p.org).defer("city", "email").order_by("id")  # noqa: E731
    query = PreparedQuery(build, org=uuid.UUID)
    [found] = query.fetch(org=organization.id)
    [orm] = build(type("P", (), {"org": organization.id}))
    assert list(query._compiled.values()) != [False]
    assert found.get_deferred_fields() == orm.get_deferred_fields() == {"city", "email"}
    loaded = {f.attname for f in Customer._meta.concrete_fields} - {"city", "email"}
    assert {n: getattr(found, n) for n in loaded} == {n: getattr(orm, n) for n in loaded}
    assert not found._state.adding and found._state.db == "default"
    assert found.city == "Lyon" and found.name == "Deferred" and found.pk == customer.pk
