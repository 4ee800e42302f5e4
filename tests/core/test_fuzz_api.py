"""Fuzzing: schemathesis generates requests for every operation of `/v1/schema` and no answer may be
a 5xx (docs/api-input.md).

Requests go to the WSGI application in-process, authenticated as a tenant that owns a small data
set (a customer, a plan, a subscription, an add-on, a metric), so generated bodies reach the
services and not only the authentication. Bounded and reproducible: `FUZZ_MAX_EXAMPLES` generated
requests per operation (default 10), derandomized (the same cases every run), no example database
written (nothing lands in the work tree). Budget: a few minutes of the CI run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from customers.inputs import CustomerUpsert
from customers.services import customer_upsert
from tests.factories.catalog import AddOnFactory, BillableMetricFactory
from tests.factories.customers import OrganizationFactory, api_key_for
from tests.factories.invoicing import make_plan, subscribe

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES") or 10)


@contextmanager
def _connections_kept() -> Iterator[None]:
    """As Django's test client does: a request must not close the test's database connection
    (`close_old_connections` runs on request_started/finished under a real WSGI server)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# Loaded when this module is collected (pytest-django has configured Django by then).
with _connections_kept():
    schema = schemathesis.openapi.from_wsgi("/v1/schema", get_wsgi_application())


@pytest.fixture
def fuzz_key(db) -> str:
    organization: Any = OrganizationFactory(name="Fuzzed Org")
    customer, _ = customer_upsert(organization, CustomerUpsert(external_id="cust-1", currency="USD"))  # numbering kept
    plan = make_plan(organization, code="basic")
    subscribe(customer, plan, datetime(2026, 1, 1, tzinfo=UTC), external_id="sub-1")
    AddOnFactory(organization=organization, code="setup", amount_cents=1000, amount_currency="USD")
    BillableMetricFactory(organization=organization, code="calls")
    return api_key_for(organization)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as generated
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case, fuzz_key):
    with _connections_kept():
        case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_key}"}, checks=[not_a_server_error])
