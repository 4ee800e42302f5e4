"""The finance console: the analytics dashboard for every staff role, exports requested and
downloaded from the admin."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from customers.roles import BILLING_ADMIN, FINANCE_VIEWER, ROLES, SUPPORT_REP
from reporting.models import Export
from tests.factories.customers import CustomerFactory
from tests.factories.reporting import make_invoice

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:reporting_analyticsdashboard_changelist"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CELERY_TASK_ALWAYS_EAGER = True


def staff(client, role: str | None):
    if role is None:
        user = User.objects.create_superuser("root", "root@example.test", "pw")
    else:
        user = User.objects.create_user(f"user-{role}", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_for_every_role(client, organization, role):
    customer = CustomerFactory(organization=organization, currency="USD")
    make_invoice(customer, timezone.now().date(), 123456)
    browser = staff(client, role)
    index = browser.get(reverse("admin:index")).content.decode()
    assert reverse(DASHBOARD) in index
    page = browser.get(reverse(DASHBOARD), {"organization": str(organization.id), "currency": "USD", "months": "3"})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="bxb-chart"') == 6
    assert "Gross revenue" in html and "Net revenue retention" in html
    assert "1,234.56 USD" in html
    assert browser.get(reverse("admin:reporting_analyticsdashboard_add")).status_code == 403


def test_dashboard_defaults_and_bad_parameters(client, organization):
    browser = staff(client, None)
    page = browser.get(reverse(DASHBOARD), {"months": "zzz", "currency": "nope", "organization": "unknown"})
    assert page.status_code == 200
    assert page.content.decode().count('class="bxb-chart"') == 6


def test_dashboard_needs_staff(client):
    response = client.get(reverse(DASHBOARD))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_billing_admin_requests_and_downloads_an_export(client, organization, django_capture_on_commit_callbacks):
    customer = CustomerFactory(organization=organization, currency="USD", external_id="acme")
    make_invoice(customer, date(2024, 3, 3), 999, number="ACM-9")
    browser = staff(client, BILLING_ADMIN)
    assert browser.get(reverse("admin:reporting_export_add")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            reverse("admin:reporting_export_add"),
            {
                "organization": organization.pk,
                "resource_type": "invoices",
                "from_date": "2024-03-01",
                "to_date": "2024-03-31",
            },
        )
    assert response.status_code == 302
    export = Export.objects.get()
    assert (export.status, export.row_count, export.requested_by) == ("completed", 1, f"user:user-{BILLING_ADMIN}")
    listing = browser.get(reverse("admin:reporting_export_changelist")).content.decode()
    link = reverse("admin:reporting_export_download", args=[export.pk])
    assert link in listing
    download = browser.get(link)
    assert download.status_code == 200
    assert "ACM-9" in b"".join(download.streaming_content).decode()
    assert browser.get(reverse("admin:reporting_export_change", args=[export.pk])).status_code == 200


def test_admin_rejects_a_reversed_range(client, organization):
    browser = staff(client, None)
    response = browser.post(
        reverse("admin:reporting_export_add"),
        {"organization": organization.pk, "resource_type": "fees", "from_date": "2024-03-02", "to_date": "2024-03-01"},
    )
    assert response.status_code == 200
    assert "The range ends before it starts." in response.content.decode()
    assert not Export.objects.exists()


@pytest.mark.parametrize("role", [FINANCE_VIEWER, SUPPORT_REP])
def test_read_only_roles_cannot_request_exports(client, organization, role):
    export = Export.objects.create(
        organization=organization, resource_type="fees", from_date=date(2024, 1, 1), to_date=date(2024, 1, 2)
    )
    browser = staff(client, role)
    assert browser.get(reverse("admin:reporting_export_changelist")).status_code == 200
    assert browser.get(reverse("admin:reporting_export_add")).status_code == 403
    # Not completed yet: no file to hand out.
    assert browser.get(reverse("admin:reporting_export_download", args=[export.pk])).status_code == 403


def test_retry_action_produces_failed_exports(client, organization):
    export = Export.objects.create(
        organization=organization,
        resource_type="fees",
        from_date=date(2024, 1, 1),
        to_date=date(2024, 1, 2),
        status="failed",
        error="boom",
    )
    browser = staff(client, BILLING_ADMIN)
    response = browser.post(
        reverse("admin:reporting_export_changelist"), {"action": "retry", "_selected_action": [str(export.pk)]}
    )
    assert response.status_code == 302
    export.refresh_from_db()
    assert (export.status, export.row_count, export.error) == ("completed", 0, "")
