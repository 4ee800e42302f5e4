"""`field__any=values` (`billing_project.core.any_lookup`): the rows `field__in=values` finds, with
the values as one array parameter on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from customers.models import Customer
from tests.factories.invoicing import make_customer

pytestmark = pytest.mark.django_db


def test_any_finds_what_in_finds(organization):
    customers = [make_customer(organization) for _ in range(3)]
    wanted = [customers[0].id, customers[2].id, uuid.uuid4()]
    as_in = set(Customer.objects.filter(id__in=wanted).values_list("id", flat=True))
    assert as_in == {customers[0].id, customers[2].id}
    assert set(Customer.objects.filter(id__any=wanted).values_list("id", flat=True)) == as_in
    # strings, or UUIDs and strings mixed, find the same rows
    assert set(Customer.objects.filter(id__any=[str(v) for v in wanted]).values_list("id", flat=True)) == as_in
    mixed = [customers[0].id, str(customers[2].id)]
    assert set(Customer.objects.filter(id__any=mixed).values_list("id", flat=True)) == as_in
    # a foreign key's ids, and an empty list
    assert Customer.objects.filter(organization_id__any=[organization.id]).count() == 3
    assert list(Customer.objects.filter(id__any=[])) == []
    assert Customer.objects.filter(external_id__any=[customers[1].external_id]).get() == customers[1]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the array parameter is PostgreSQL's")
def test_one_array_parameter_whatever_the_number_of_values(organization):
    customers = [make_customer(organization) for _ in range(2)]
    sent = []

    def capture(execute, sql, params, many, context):
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        found = list(Customer.objects.filter(id__any=[c.id for c in customers] * 300))
    assert {c.id for c in found} == {c.id for c in customers}
    ((sql, params),) = sent
    assert "= ANY(%s::uuid[])" in sql and sql.count("%s") == 1 and len(params) == 1 and params[0].count(",") == 599


def test_values_that_need_quoting_in_an_array(organization):
    odd = make_customer(organization, external_id='a,b"{c} \\d')
    plain = make_customer(organization, external_id="plain-1.x_y")
    found = Customer.objects.filter(external_id__any=[odd.external_id, plain.external_id, "NULL", ""])
    assert set(found.values_list("id", flat=True)) == {odd.id, plain.id}
    assert Customer.objects.filter(sequential_id__any=[odd.sequential_id]).get() == odd
