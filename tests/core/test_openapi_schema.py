"""The OpenAPI schema documents what the API really answers (schemathesis found these gaps)."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from billing_project.core.api.schema import ERROR_STATUSES

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_operation_documents_lago_error_responses(schema):
    operations = [op for ops in schema["paths"].values() for op in ops.values() if isinstance(op, dict)]
    assert len(operations) > 100
    for operation in operations:
        assert set(ERROR_STATUSES) <= set(operation["responses"]), operation["operationId"]
        ref = operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/LagoError"
    assert schema["components"]["schemas"]["LagoError"]["required"] == ["status", "error"]


def test_fields_omitted_when_null_are_not_required(schema, api):
    required = schema["components"]["schemas"]["PlanOutput"]["required"]
    assert "metadata" not in required and "minimum_commitment" not in required
    assert "code" in required
    payload = {"plan": {"name": "P", "code": "p", "interval": "monthly", "amount_cents": 0, "amount_currency": "USD"}}
    plan = api.post("/api/v1/plans", payload, format="json").json()["plan"]
    assert "metadata" not in plan and "minimum_commitment" not in plan
    assert set(required) <= set(plan)
