from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_liveness(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_checks_the_database(client):
    with override_settings(REDIS_URL="", CLICKHOUSE_URL=""):
        response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["components"] == {"database": "ok"}
    # What readiness does not cover is said, with the metrics to alert on instead.
    assert set(response.json()["not_checked"]) == {"workers", "beat"}
    assert "bxb_celery_queue_oldest_age_seconds" in response.json()["not_checked"]["workers"]


def test_readiness_names_a_failing_redis(client):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0", CLICKHOUSE_URL=""):
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]


def test_readiness_names_a_failing_clickhouse(client):
    with override_settings(REDIS_URL="", CLICKHOUSE_URL="clickhouse://default@127.0.0.1:1/x"):
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["clickhouse"]


def test_schema_and_docs_are_served(client):
    schema = client.get("/v1/schema")
    assert schema.status_code == 200
    assert b"/api/v1/customers" in schema.content
    assert client.get("/v1/docs").status_code == 200
