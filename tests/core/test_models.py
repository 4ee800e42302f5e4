"""The kernel's model helpers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing_project.core.models import prefetch_nothing
from customers.models import CustomerMetadata
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def test_prefetch_nothing_answers_an_empty_relation_without_a_query():
    customer = CustomerFactory()
    prefetch_nothing(customer, "metadata", CustomerMetadata)
    with CaptureQueriesContext(connection) as captured:
        assert list(customer.metadata.all()) == [] and list(customer._prefetched_objects_cache["metadata"]) == []  # type: ignore[attr-defined]
        assert customer.metadata.count() == 0 and not customer.metadata.exists()
    assert captured.captured_queries == []
