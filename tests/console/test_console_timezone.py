"""The console shows times in the timezone of the organization a page is about (console/zone.py,
docs/console.md "Dates"): the object's organization on its page, the organization named in the
request (remembered in the session), else the first by name; the zone is always named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from customers.roles import BILLING_ADMIN
from invoicing.models import InvoiceStatus
from tests.factories.customers import CustomerFactory
from tests.factories.payments import finalized_invoice

pytestmark = pytest.mark.django_db

FINALIZE_AT = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)


@pytest.fixture
def staff(client):
    user = User.objects.create_user("zone-admin", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=BILLING_ADMIN))
    client.force_login(user)
    return user


@pytest.fixture
def drafts(organization, other_tenant):
    """A draft in New York's organization and one in Tokyo's, both finalizing at 03:00 UTC."""
    organization.timezone = "America/New_York"
    organization.save(update_fields=["timezone"])
    tokyo = other_tenant.organization
    tokyo.timezone = "Asia/Tokyo"
    tokyo.save(update_fields=["timezone"])

    def draft(org, external_id):
        customer = CustomerFactory(organization=org, external_id=external_id)
        return finalized_invoice(
            customer, 4000, status=InvoiceStatus.DRAFT, number=f"{external_id}-DRAFT", finalize_at=FINALIZE_AT
        )

    return {"new_york": draft(organization, "cus_ny"), "tokyo": draft(tokyo, "cus_tk"), "tokyo_org": tokyo}


def _invoice_page(client, invoice):
    return client.get(reverse("admin:invoicing_invoice_change", args=[invoice.pk])).content.decode()


def test_an_invoice_page_shows_times_in_its_organizations_zone(client, staff, drafts):
    page = _invoice_page(client, drafts["new_york"])
    assert "2026-01-14 22:00 EST" in page
    assert "Times in America/New_York" in page

    page = _invoice_page(client, drafts["tokyo"])
    assert "2026-01-15 12:00 JST" in page
    assert "Times in Asia/Tokyo" in page
    assert "03:00" not in page.split("grace period")[0].rsplit("automatically on", 1)[-1]


def test_the_organization_named_is_remembered_and_an_object_page_wins(client, staff, drafts):
    tokyo = drafts["tokyo_org"]
    listing = client.get(reverse("admin:invoicing_invoice_changelist"), {"organization__id__exact": str(tokyo.pk)})
    assert "Times in Asia/Tokyo" in listing.content.decode()

    home = client.get(reverse("admin:index")).content.decode()  # nothing named: the choice is remembered
    assert "Times in Asia/Tokyo" in home

    assert "Times in America/New_York" in _invoice_page(client, drafts["new_york"])  # the object's own zone
    assert "Times in Asia/Tokyo" in client.get(reverse("admin:index")).content.decode()  # still remembered


def test_without_a_choice_the_first_organization_by_name(client, staff, drafts, organization):
    first = min([organization, drafts["tokyo_org"]], key=lambda o: o.name)
    page = client.get(reverse("admin:invoicing_invoice_changelist")).content.decode()
    assert f"Times in {first.timezone}" in page


@pytest.mark.parametrize("bad", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "1; drop table"])
def test_a_malformed_or_unknown_organization_is_ignored(client, staff, drafts, bad):
    response = client.get(reverse("admin:index"), {"organization": bad})
    assert response.status_code == 200
    response = client.get(reverse("admin:invoicing_invoice_changelist"), {"organization__id__exact": bad})
    assert response.status_code in (200, 302)  # the admin's own answer to a bad filter
    response = client.get(reverse("admin:invoicing_invoice_change", args=[bad]))
    assert response.status_code in (200, 302, 404)


def test_the_api_keeps_utc(api, drafts):
    body = api.get(f"/api/v1/invoices/{drafts['new_york'].pk}").json()
    assert body["invoice"]["created_at"].endswith("Z")
