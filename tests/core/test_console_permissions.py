"""Every custom admin view and download (PDFs, credit notes, exports, dashboards, console pages)
goes through one permission check (`billing_project.core.console.console_view`): walked here for
each staff role, a staff account without a group and an anonymous visitor."""

from __future__ import annotations

import uuid

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import URLPattern, URLResolver, reverse

from customers.roles import ROLES
from tests.factories.credits import make_credit_note, make_one_off_invoice
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db

# Django's own admin views, each checked by Django (model permissions or the login page).
STANDARD_SUFFIXES = ("_changelist", "_add", "_change", "_delete", "_history")
STANDARD_NAMES = {
    "index",
    "login",
    "logout",
    "password_change",
    "password_change_done",
    "jsi18n",
    "view_on_site",
    "app_list",
    "autocomplete",
}


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def custom_admin_urls() -> list[tuple[str, URLPattern]]:
    found = []
    for route, pattern in _walk(admin.site.get_urls()):
        name = pattern.name or ""
        if not name or name in STANDARD_NAMES or name.endswith(STANDARD_SUFFIXES):
            continue
        found.append((route, pattern))
    return found


def _url(route: str, pattern: URLPattern) -> str:
    """The pattern's URL with a random id for each path parameter (the check comes first)."""
    kwargs = {key: uuid.uuid4() for key in pattern.pattern.converters}
    return reverse(f"admin:{pattern.name}", kwargs=kwargs)


def _staff(role: str | None) -> User:
    user = User.objects.create_user(f"staff-{role or 'none'}".replace(" ", "-").lower(), password="pw", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)


def test_custom_admin_urls_exist_and_each_declares_its_permission():
    urls = custom_admin_urls()
    names = {pattern.name for _, pattern in urls}
    assert {
        "invoicing_invoice_pdf",
        "invoicing_creditnote_pdf",
        "reporting_export_download",
        "console_aging",
        "console_billing_run_start",
        "customers_customer_one_off",
        "invoicing_invoice_record_payment",
    } <= names
    for route, pattern in urls:
        assert getattr(pattern.callback, "console_permission", None), f"/admin/{route} has no permission check"


@pytest.mark.parametrize("role", [*ROLES, None])
def test_every_custom_admin_view_checks_the_role(client, role):
    user = _staff(role)
    client.force_login(user)
    for route, pattern in custom_admin_urls():
        permission = pattern.callback.console_permission
        response = client.get(_url(route, pattern))
        if user.has_perm(permission):
            assert response.status_code != 403, (role, route, permission)
        else:
            assert response.status_code == 403, (role, route, permission, response.status_code)


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for route, pattern in custom_admin_urls():
        url = _url(route, pattern)
        response = client.get(url)
        assert response.status_code == 302, route
        assert response["Location"].startswith(reverse("admin:login")), route


def test_a_staff_account_without_a_group_cannot_download_an_invoice_pdf(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    invoice = make_one_off_invoice(CustomerFactory(), 1000)
    url = reverse("admin:invoicing_invoice_pdf", args=[invoice.pk])
    client.force_login(_staff(None))
    assert client.get(url).status_code == 403
    client.force_login(User.objects.create_user("inactive", password="pw", is_staff=True, is_active=False))
    assert client.get(url).status_code == 302  # back to the login page
    client.force_login(_staff(ROLES[-1]))  # a Finance Viewer reads documents
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


def test_credit_note_pdf_follows_the_role(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    invoice = make_one_off_invoice(CustomerFactory(), 1000)
    note = make_credit_note(invoice, credit=1000)
    url = reverse("admin:invoicing_creditnote_pdf", args=[note.pk])
    client.force_login(_staff(None))
    assert client.get(url).status_code == 403
    client.force_login(_staff(ROLES[-1]))
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content)[:5] == b"%PDF-"
