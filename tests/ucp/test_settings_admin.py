"""The UCP settings go through `ucp_settings_save` whether saved from code or from the admin: the
checkout lifetime and the buyer-email requirement included, a bad lifetime refused."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from billing_project.core.errors import ValidationFailure
from ucp.models import UcpSettings
from ucp.services import setup

pytestmark = pytest.mark.django_db


def test_the_service_sets_the_checkout_lifetime_and_keeps_it_when_left_out(ucp_org):
    saved = setup.ucp_settings_save(
        ucp_org.organization,
        slug="acme",
        public_base_url=ucp_org.public_base_url,
        checkout_ttl_minutes=45,
        require_buyer_email=False,
    )
    assert (saved.checkout_ttl_minutes, saved.require_buyer_email) == (45, False)
    again = setup.ucp_settings_save(ucp_org.organization, slug="acme", public_base_url=ucp_org.public_base_url)
    assert again.checkout_ttl_minutes == 45


def test_a_lifetime_under_a_minute_is_refused_and_changes_nothing(ucp_org):
    before = UcpSettings.objects.get(id=ucp_org.id).checkout_ttl_minutes
    with pytest.raises(ValidationFailure) as caught:
        setup.ucp_settings_save(
            ucp_org.organization, slug="acme", public_base_url=ucp_org.public_base_url, checkout_ttl_minutes=0
        )
    assert caught.value.details == {"checkout_ttl_minutes": ["value_is_invalid"]}
    assert UcpSettings.objects.get(id=ucp_org.id).checkout_ttl_minutes == before


def test_the_admin_form_saves_through_the_service(client, ucp_org):
    client.force_login(get_user_model().objects.create_superuser("admin", "admin@example.test", "pw"))
    row = UcpSettings.objects.get(id=ucp_org.id)
    form = {
        "organization": row.organization_id,
        "enabled": "on",
        "slug": row.slug,
        "public_base_url": row.public_base_url,
        "namespace": "",
        "payment_connection": row.payment_connection_id,
        "platform_policy": row.platform_policy,
        "rate_limit_per_minute": row.rate_limit_per_minute,
        "checkout_ttl_minutes": 90,
        "terms_url": "",
        "privacy_url": "",
    }  # require_buyer_email and require_signatures unchecked
    response = client.post(f"/admin/ucp/ucpsettings/{row.id}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    row.refresh_from_db()
    assert (row.checkout_ttl_minutes, row.require_buyer_email, row.signing_kid) == (90, False, ucp_org.signing_kid)
