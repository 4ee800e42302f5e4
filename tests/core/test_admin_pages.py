"""Every admin changelist and add page of every app loads for a superuser."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import reverse

from customers.roles import FINANCE_VIEWER, ROLES, SUPPORT_REP
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db

MODEL_ADMINS = sorted(
    ((model._meta.app_label, model._meta.model_name) for model in admin.site._registry),
)


@pytest.fixture
def superuser_client(client):
    user = User.objects.create_superuser("root", "root@example.test", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize(("app_label", "model_name"), MODEL_ADMINS)
def test_changelist_and_add_pages_load(superuser_client, app_label, model_name):
    CustomerFactory()
    changelist = superuser_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert changelist.status_code == 200
    add = superuser_client.get(reverse(f"admin:{app_label}_{model_name}_add"))
    assert add.status_code in {200, 403}  # 403: ledgers that cannot be added by hand


def test_customer_change_page_and_search(superuser_client):
    customer = CustomerFactory(name="Searchable Ltd")
    page = superuser_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert page.status_code == 200
    found = superuser_client.get(reverse("admin:customers_customer_changelist") + "?q=Searchable")
    assert b"Searchable Ltd" in found.content


def test_staff_groups_exist():
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)


def _staff_client(client, role):
    user = User.objects.create_user(f"user-{role}", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def test_finance_viewer_reads_but_cannot_change(client):
    customer = CustomerFactory()
    viewer = _staff_client(client, FINANCE_VIEWER)
    assert viewer.get(reverse("admin:customers_customer_changelist")).status_code == 200
    assert viewer.get(reverse("admin:customers_customer_change", args=[customer.pk])).status_code == 200
    assert viewer.get(reverse("admin:customers_customer_add")).status_code == 403
    response = viewer.post(reverse("admin:customers_customer_change", args=[customer.pk]), {"name": "Hacked"})
    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.name != "Hacked"


def test_support_rep_edits_customers_only(client):
    rep = _staff_client(client, SUPPORT_REP)
    assert rep.get(reverse("admin:customers_customer_add")).status_code == 200
    assert rep.get(reverse("admin:customers_organization_add")).status_code == 403
    assert rep.get(reverse("admin:customers_apikey_add")).status_code == 403


def test_admin_creates_api_key_and_shows_secret_once(superuser_client):
    from customers.models import ApiKey
    from tests.factories.customers import OrganizationFactory

    organization = OrganizationFactory()
    response = superuser_client.post(
        reverse("admin:customers_apikey_add"), {"organization": organization.pk, "name": "from admin"}, follow=True
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get(organization=organization, name="from admin")
    messages = [str(m) for m in response.context["messages"]]
    secret = next(m for m in messages if "API key created" in m).split(": ", 1)[1].split(" ")[0]
    assert secret.startswith(f"bxb_{api_key.prefix}_")
    from customers.services import api_key_authenticate

    assert api_key_authenticate(secret).pk == api_key.pk
    again = superuser_client.get(reverse("admin:customers_apikey_change", args=[api_key.pk]))
    assert secret.encode() not in again.content


def test_admin_customer_save_goes_through_validation(superuser_client):
    customer = CustomerFactory()
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    form = superuser_client.get(url).context["adminform"].form
    data = {
        key: ("" if value is None else value)
        for key, value in form.initial.items()
        if not isinstance(value, dict | list)
    }
    data.update(
        {
            "currency": "ZZZ",
            "shipping_address": "{}",
            "provider_settings": "{}",
            "metadata-TOTAL_FORMS": "0",
            "metadata-INITIAL_FORMS": "0",
            "finalize_zero_amount_invoice": "inherit",
        }
    )
    response = superuser_client.post(url, data)
    assert response.status_code == 200  # re-rendered with errors
    assert "value_is_invalid" in response.content.decode()
    customer.refresh_from_db()
    assert customer.currency == "USD"
