"""API key scopes: full access, read-only, per-resource permissions, and Lago's 403 codes."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory

from billing_project.core.api.permissions import (
    RESOURCES,
    permits,
    read_only_permissions,
    request_mode,
    resource_name_of,
)
from billing_project.core.api.views import OrganizationAPIView
from billing_project.core.errors import ValidationFailure
from customers.models import ApiKey
from customers.services import api_key_authenticate, api_key_create, api_key_set_permissions
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def client_for(organization, permissions) -> tuple[APIClient, ApiKey]:
    api_key, raw_key = api_key_create(organization, name="scoped", permissions=permissions)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client, api_key


def forbidden(code: str) -> dict:
    return {"status": 403, "error": "Forbidden", "code": code}


def test_keys_have_full_access_by_default(tenant):
    api_key = ApiKey.objects.get(organization=tenant.organization)
    assert api_key.permissions is None
    assert api_key.scope == "full access"
    assert (
        tenant.client.post("/api/v1/customers", {"customer": {"external_id": "c1"}}, format="json").status_code == 200
    )
    assert (
        tenant.client.put("/api/v1/organizations", {"organization": {"city": "Paris"}}, format="json").status_code
        == 200
    )


def test_read_only_key_reads_everything_and_writes_nothing(organization):
    CustomerFactory(organization=organization, external_id="c1")
    client, api_key = client_for(organization, read_only_permissions())
    assert api_key.scope == "read-only"
    assert client.get("/api/v1/customers").status_code == 200
    assert client.get("/v1/customers/c1").status_code == 200
    assert client.get("/api/v1/organizations").status_code == 200

    created = client.post("/api/v1/customers", {"customer": {"external_id": "c2"}}, format="json")
    assert created.status_code == 403
    assert created.json() == forbidden("write_action_not_allowed_for_customer")
    deleted = client.delete("/api/v1/customers/c1")
    assert deleted.json() == forbidden("write_action_not_allowed_for_customer")
    org = client.put("/api/v1/organizations", {"organization": {"city": "Paris"}}, format="json")
    assert org.status_code == 403
    assert org.json() == forbidden("write_action_not_allowed_for_organization")
    assert organization.customers.filter(external_id="c2").count() == 0
    assert organization.customers.get(external_id="c1").deleted_at is None


def test_per_resource_permissions(organization):
    client, api_key = client_for(organization, {"customer": ["read", "write"]})
    assert api_key.scope == "custom"
    assert client.post("/api/v1/customers", {"customer": {"external_id": "c1"}}, format="json").status_code == 200
    assert client.get("/api/v1/customers/c1").status_code == 200
    refused = client.get("/api/v1/organizations")
    assert refused.status_code == 403
    assert refused.json() == forbidden("read_action_not_allowed_for_organization")


def test_write_without_read(organization):
    """An ingestion-style key: may send, may not list."""
    client, _ = client_for(organization, {"customer": ["write"]})
    assert client.post("/api/v1/customers", {"customer": {"external_id": "w1"}}, format="json").status_code == 200
    assert client.get("/api/v1/customers").json() == forbidden("read_action_not_allowed_for_customer")


def test_scope_check_comes_after_authentication(organization, client):
    response = client.post("/api/v1/customers", {}, content_type="application/json", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401


def test_other_tenant_scoped_key_still_gets_404(organization, other_tenant):
    CustomerFactory(organization=other_tenant.organization, external_id="theirs")
    client, _ = client_for(organization, read_only_permissions())
    assert client.get("/api/v1/customers/theirs").status_code == 404


def test_permission_changes_take_effect_on_the_next_request(organization):
    client, api_key = client_for(organization, read_only_permissions())
    assert client.post("/api/v1/customers", {"customer": {"external_id": "x"}}, format="json").status_code == 403
    api_key_set_permissions(api_key, permissions=None)
    assert client.post("/api/v1/customers", {"customer": {"external_id": "x"}}, format="json").status_code == 200
    api_key_set_permissions(api_key, permissions={"organization": ["read"]})
    api_key.refresh_from_db()
    assert api_key.permissions == {"organization": ["read"]}
    assert client.get("/api/v1/customers").status_code == 403


@pytest.mark.parametrize(
    ("permissions", "codes"),
    [
        ({"customers": ["read"]}, ["forbidden_keys"]),
        ({"customer": ["delete"]}, ["forbidden_values"]),
        ({"customer": "read"}, ["forbidden_values"]),
        ({"nope": ["admin"]}, ["forbidden_keys", "forbidden_values"]),
        ({}, ["value_is_invalid"]),
        (["customer"], ["value_is_invalid"]),
    ],
)
def test_invalid_permissions_are_refused(organization, permissions, codes):
    with pytest.raises(ValidationFailure) as raised:
        api_key_create(organization, permissions=permissions)
    assert raised.value.details == {"permissions": codes}
    assert ApiKey.objects.filter(name="", organization=organization).count() == 0


def test_permissions_are_normalized(organization):
    api_key, _ = api_key_create(organization, permissions={"invoice": ["write", "read", "read"], "customer": []})
    assert api_key.permissions == {"customer": [], "invoice": ["read", "write"]}
    api_key.refresh_from_db()
    assert api_key.permissions == {"customer": [], "invoice": ["read", "write"]}


# --- the resource_name convention ----------------------------------------------------------------


class GadgetSprocketCollectionView(OrganizationAPIView):
    def get(self, request):
        return Response({"ok": True})

    def post(self, request):
        return Response({"ok": True})


class DeclaredView(OrganizationAPIView):
    resource_name = "invoice"

    def get(self, request):
        return Response({"ok": True})


def test_resource_names_are_derived_from_view_classes():
    class PlanDetailView:
        pass

    class WebhookEndpointCollectionView:
        pass

    class CustomerUsageView:
        pass

    class EventBatchView:
        pass

    assert resource_name_of(PlanDetailView()) == "plan"
    assert resource_name_of(WebhookEndpointCollectionView()) == "webhook_endpoint"
    assert resource_name_of(CustomerUsageView()) == "customer_usage"
    assert resource_name_of(EventBatchView()) == "event"
    assert resource_name_of(DeclaredView()) == "invoice"
    assert request_mode("GET") == "read" and request_mode("HEAD") == "read"
    assert request_mode("POST") == "write" and request_mode("DELETE") == "write"
    assert permits(None, "anything", "write")
    assert not permits({"plan": ["read"]}, "plan", "write")
    assert set(read_only_permissions()) == set(RESOURCES)


def _call(view_class, organization, permissions, method="get"):
    _, raw_key = api_key_create(organization, permissions=permissions)
    factory = APIRequestFactory()
    request = getattr(factory, method)("/x", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return view_class.as_view()(request)


def test_an_unknown_derived_resource_fails_closed_for_scoped_keys(organization):
    assert _call(GadgetSprocketCollectionView, organization, None, "post").status_code == 200
    refused = _call(GadgetSprocketCollectionView, organization, read_only_permissions())
    assert refused.status_code == 403
    assert refused.data["code"] == "read_action_not_allowed_for_gadget_sprocket"


def test_a_declared_resource_name_is_used(organization):
    assert _call(DeclaredView, organization, {"invoice": ["read"]}).status_code == 200
    refused = _call(DeclaredView, organization, {"customer": ["read"]})
    assert refused.data["code"] == "read_action_not_allowed_for_invoice"


# --- command and admin ------------------------------------------------------------------------------


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_api_key_command_scopes(organization):
    output = run("create_api_key", organization.name, "--read-only")
    assert "(read-only)" in output
    assert api_key_authenticate(output.rsplit(": ", 1)[1].strip()).permissions == read_only_permissions()

    output = run("create_api_key", organization.name, "--permissions", json.dumps({"customer": ["write"]}))
    assert "(custom)" in output
    assert api_key_authenticate(output.rsplit(": ", 1)[1].strip()).permissions == {"customer": ["write"]}

    assert "(full access)" in run("create_api_key", organization.name)
    with pytest.raises(CommandError, match="not valid JSON"):
        run("create_api_key", organization.name, "--permissions", "{customer")
    with pytest.raises(CommandError, match="forbidden_keys"):
        run("create_api_key", organization.name, "--permissions", '{"customers": ["read"]}')
    with pytest.raises(CommandError):
        run("create_api_key", organization.name, "--read-only", "--permissions", "{}")


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


def test_admin_lists_scopes_and_filters(admin_client, organization):
    reader, _ = api_key_create(organization, name="reader", permissions=read_only_permissions())
    full, _ = api_key_create(organization, name="full")
    url = reverse("admin:customers_apikey_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b"read-only" in page.content and b"full access" in page.content
    scoped = admin_client.get(url + "?scope=scoped")
    assert reader.prefix.encode() in scoped.content
    assert full.prefix.encode() not in scoped.content
    full_only = admin_client.get(url + "?scope=full")
    assert full.prefix.encode() in full_only.content
    assert reader.prefix.encode() not in full_only.content


def test_admin_actions_and_form_change_permissions(admin_client, organization):
    api_key, _ = api_key_create(organization, name="k")
    url = reverse("admin:customers_apikey_changelist")
    admin_client.post(url, {"action": "make_read_only", "_selected_action": [api_key.pk]})
    api_key.refresh_from_db()
    assert api_key.permissions == read_only_permissions()
    admin_client.post(url, {"action": "give_full_access", "_selected_action": [api_key.pk]})
    api_key.refresh_from_db()
    assert api_key.permissions is None

    change = reverse("admin:customers_apikey_change", args=[api_key.pk])
    data = {"organization": organization.pk, "name": "renamed", "permissions": '{"event": ["write"]}'}
    assert admin_client.post(change, data).status_code == 302
    api_key.refresh_from_db()
    assert (api_key.name, api_key.permissions) == ("renamed", {"event": ["write"]})

    bad = admin_client.post(change, {**data, "permissions": '{"events": ["write"]}'})
    assert bad.status_code == 200
    assert b"forbidden_keys" in bad.content
    api_key.refresh_from_db()
    assert api_key.permissions == {"event": ["write"]}


def test_admin_add_creates_a_scoped_key(admin_client, organization):
    add = reverse("admin:customers_apikey_add")
    response = admin_client.post(
        add, {"organization": organization.pk, "name": "new", "permissions": '{"customer": ["read"]}'}, follow=True
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="new")
    assert api_key.permissions == {"customer": ["read"]}
    assert b"copy it now" in response.content


# --- Lago's client ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_lago_client_sees_the_403(lago):
    from lago_python_client.client import Client
    from lago_python_client.exceptions import LagoApiError
    from lago_python_client.models import Customer

    _, raw_key = api_key_create(lago.organization, permissions=read_only_permissions())
    client = Client(api_key=raw_key, api_url=lago.base_url + "/")
    with pytest.raises(LagoApiError) as raised:
        client.customers.create(Customer(external_id="nope"))
    assert raised.value.status_code == 403
    assert raised.value.response["code"] == "write_action_not_allowed_for_customer"
    lago.client.customers.create(Customer(external_id="yes"))
    assert client.customers.find("yes").external_id == "yes"


def test_an_ingestion_key_sends_events_and_reads_nothing(organization):
    """The classic least-privilege key: `{"event": ["write"]}` on the real events endpoints."""
    from tests.factories.metering import event_payload, make_metric

    make_metric(organization, "calls")
    client, _ = client_for(organization, {"event": ["write"]})
    assert client.post("/api/v1/events", {"event": event_payload("t1")}, format="json").status_code == 200
    assert client.post("/api/v1/events/batch", {"events": [event_payload("t2")]}, format="json").status_code == 200
    assert client.get("/api/v1/events").json() == forbidden("read_action_not_allowed_for_event")
    assert client.get("/api/v1/customers").json() == forbidden("read_action_not_allowed_for_customer")


def test_event_scope_covers_estimate_fees_and_event_errors(organization):
    client, _ = client_for(organization, {"event": ["read", "write"]})
    errors = client.get("/api/v1/event_errors")
    assert errors.status_code == 200, errors.content
    estimate = client.post(
        "/api/v1/events/estimate_fees",
        {"event": {"transaction_id": "t-1", "external_subscription_id": "nope", "code": "calls"}},
        format="json",
    )
    assert estimate.status_code != 403, estimate.content
    customers_only, _ = client_for(organization, {"customer": ["read"]})
    assert customers_only.get("/api/v1/event_errors").json() == forbidden("read_action_not_allowed_for_event")
