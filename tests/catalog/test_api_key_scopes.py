"""Scoped API keys on catalog routes: each view names its Lago resource (plan, tax, coupon, ...)."""

import pytest
from rest_framework.test import APIClient

from billing_project.core.api.permissions import RESOURCES, resource_name_of
from catalog.api import views
from customers.services import api_key_create

pytestmark = pytest.mark.django_db


def _client(organization, permissions):
    _, raw_key = api_key_create(organization, permissions=permissions)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/api/v1/plans", "plan"),
        ("/api/v1/taxes", "tax"),
        ("/api/v1/billable_metrics", "billable_metric"),
        ("/api/v1/add_ons", "add_on"),
        ("/api/v1/coupons", "coupon"),
        ("/api/v1/applied_coupons", "applied_coupon"),
    ],
)
def test_a_key_scoped_to_the_resource_may_read_it_and_not_write_it(organization, path, resource):
    client = _client(organization, {resource: ["read"]})
    assert client.get(path).status_code == 200
    refused = client.post(path, {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == f"write_action_not_allowed_for_{resource}"
    other = _client(organization, {"customer": ["read", "write"]})
    assert other.get(path).json()["code"] == f"read_action_not_allowed_for_{resource}"


def test_plan_subroutes_use_the_plan_resource(organization):
    client = _client(organization, {"plan": ["read"]})
    # The plan does not exist: the scope check passed and the view answered 404.
    assert client.get("/api/v1/plans/nope/charges").status_code == 404
    assert client.get("/api/v1/plans/nope/charges/c/filters").status_code == 404
    assert client.delete("/api/v1/plans/nope/metadata").status_code == 403


def test_every_catalog_view_declares_a_known_resource_name():
    classes = [
        value
        for value in vars(views).values()
        if isinstance(value, type)
        and issubclass(value, views.OrganizationAPIView)
        and value.__module__ == views.__name__
    ]
    assert len(classes) >= 18
    for cls in classes:
        assert getattr(cls, "resource_name", None) in RESOURCES, cls.__name__
        assert resource_name_of(cls()) in RESOURCES
