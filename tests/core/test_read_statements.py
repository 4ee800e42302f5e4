"""Statements of simple reads by id and first pages (issue 24: the same care for every GET by id and
list). With the API key in the worker's cache; each count is what the read needs, so a regression
(a query per row, a read done twice) fails here. Customers: tests/customers/test_read_statements.py."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.core.statements import get_counted as _get

pytestmark = pytest.mark.django_db


@pytest.fixture
def taxed(tenant):
    from catalog.models import CustomerTax, PlanTax, Tax
    from tests.factories.catalog import PlanFactory
    from tests.factories.customers import CustomerFactory

    vat = Tax.objects.create(organization=tenant.organization, code="vat", name="VAT", rate="20")
    Tax.objects.create(organization=tenant.organization, code="gst", name="GST", rate="5")
    for _ in range(2):
        CustomerTax.objects.create(customer=CustomerFactory(organization=tenant.organization), tax=vat)
    PlanTax.objects.create(plan=PlanFactory(organization=tenant.organization), tax=vat)
    tenant.client.get("/api/v1/taxes")  # the key's first use
    return tenant


def test_a_tax_and_a_page_of_taxes_are_one_statement_with_their_counts(taxed):
    body, sql = _get(taxed.client, "/api/v1/taxes/vat")
    assert len(sql) == 1, sql
    tax = body["tax"]
    assert (tax["customers_count"], tax["plans_count"], tax["add_ons_count"], tax["charges_count"]) == (2, 1, 0, 0)
    assert tax["commitments_count"] == 0
    body, sql = _get(taxed.client, "/api/v1/taxes?per_page=1")
    assert len(sql) == 1, sql
    assert body["taxes"][0]["code"] == "gst" and body["taxes"][0]["customers_count"] == 0
    assert body["meta"]["total_count"] == 2
    body, sql = _get(taxed.client, "/api/v1/taxes")
    assert len(sql) == 1, sql
    assert {t["code"]: t["customers_count"] for t in body["taxes"]} == {"vat": 2, "gst": 0}


def test_a_deleted_tax_is_answered_with_its_counts(taxed):
    response = taxed.client.delete("/api/v1/taxes/gst")
    assert response.status_code == 200
    assert response.json()["tax"]["customers_count"] == 0


def test_the_organization_reads_its_webhook_urls_once(tenant):
    from webhooks.models import WebhookEndpoint

    WebhookEndpoint.objects.create(organization=tenant.organization, webhook_url="https://a.example/hook")
    WebhookEndpoint.objects.create(organization=tenant.organization, webhook_url="https://b.example/hook")
    tenant.client.get("/api/v1/organizations")
    body, sql = _get(tenant.client, "/api/v1/organizations")
    assert len(sql) == 1, sql
    assert body["organization"]["webhook_url"] == "https://a.example/hook"
    assert body["organization"]["webhook_urls"] == ["https://a.example/hook", "https://b.example/hook"]


def test_a_subscription_by_id_is_read_once(tenant):
    from tests.factories.subscriptions import SubscriptionFactory

    SubscriptionFactory(organization=tenant.organization, external_id="s1")
    tenant.client.get("/api/v1/subscriptions/s1")
    body, sql = _get(tenant.client, "/api/v1/subscriptions/s1")
    assert body["subscription"]["external_id"] == "s1"
    reads = [q for q in sql if q.startswith('SELECT "subscriptions_subscription"."id"')]
    # the subscription with its relations and its next subscriptions (their own statement but on PostgreSQL)
    assert len(reads) == (1 if connection.vendor == "postgresql" else 2), reads


def test_a_plan_counts_its_subscriptions_and_customers_in_one_statement(tenant):
    from tests.factories.subscriptions import SubscriptionFactory

    first = SubscriptionFactory(organization=tenant.organization, external_id="s1")
    plan = first.plan
    SubscriptionFactory(organization=tenant.organization, external_id="s2", plan=plan, customer=first.customer)
    SubscriptionFactory(organization=tenant.organization, external_id="s3", plan=plan)
    tenant.client.get(f"/api/v1/plans/{plan.code}")
    body, sql = _get(tenant.client, f"/api/v1/plans/{plan.code}")
    counting = [q for q in sql if 'FROM "subscriptions_subscription"' in q]
    assert len(counting) == 1, counting
    assert body["plan"]["active_subscriptions_count"] == 3 and body["plan"]["customers_count"] == 2
    body, sql = _get(tenant.client, "/api/v1/plans")
    assert len([q for q in sql if 'FROM "subscriptions_subscription"' in q]) == 1
    assert body["plans"][0]["customers_count"] == 2
