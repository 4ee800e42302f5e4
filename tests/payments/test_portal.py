"""The customer portal: a signed, expiring link; the pages show only the token's customer."""

from __future__ import annotations

import pytest
from django.core import signing

from payments import portal
from payments.models import PaymentMethod
from payments.services import collection
from tests.factories.customers import CustomerFactory
from tests.factories.payments import finalized_invoice, provider_customer, stripe_connection

pytestmark = pytest.mark.django_db


def _link(api, external_id):
    response = api.get(f"/api/v1/customers/{external_id}/portal_url")
    assert response.status_code == 200, response.content
    return response.json()["customer"]["portal_url"]


@pytest.fixture
def setup(organization, fake_stripe):
    connection = stripe_connection(organization)
    customer = provider_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_visa",
        external_id="portal-1", name="Jane Buyer",
    )  # fmt: skip
    PaymentMethod.objects.filter(customer=customer).update(details={"brand": "visa", "last4": "4242"})
    open_invoice = finalized_invoice(customer, 12_345, currency="USD", number="ACME-001")
    paid = finalized_invoice(customer, 500, currency="USD", number="ACME-002")
    collection.payment_create_manual(organization, invoice_id=paid.id, amount_cents=500, reference="wire")
    return customer, open_invoice, paid


def test_the_portal_shows_invoices_receipts_and_methods(api, client, setup):
    _, open_invoice, paid = setup
    url = _link(api, "portal-1")
    assert url.startswith("/portal/") or "/portal/" in url
    page = client.get(url[url.index("/portal/") :])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Jane Buyer" in html and "ACME-001" in html and "ACME-002" in html
    assert "123.45" in html and "USD" in html
    assert "4242" in html and "default" in html
    assert 'name="viewport"' in html  # readable on a phone
    assert f"/invoices/{open_invoice.id}/pay" in html and f"/invoices/{paid.id}/pay" not in html
    path = url[url.index("/portal/") :]
    pdf = client.get(f"{path}invoices/{open_invoice.id}/pdf")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    receipt = paid.payments.get().receipt
    rpdf = client.get(f"{path}receipts/{receipt.id}/pdf")
    assert rpdf.status_code == 200


def test_tampered_expired_or_foreign_links_reveal_nothing(api, client, organization, setup, settings):
    customer, open_invoice, _ = setup
    path = _link(api, "portal-1")
    path = path[path.index("/portal/") :]
    token = path.split("/")[2]
    assert client.get(f"/portal/{token[:-2]}xx/").status_code == 404
    forged = signing.TimestampSigner(salt="other").sign_object({"o": str(organization.id), "c": str(customer.id)})
    assert client.get(f"/portal/{forged}/").status_code == 404
    settings.PORTAL_LINK_MAX_AGE_SECONDS = -1  # every link is now expired
    response = client.get(path)
    assert response.status_code == 404 and b"Jane" not in response.content
    settings.PORTAL_LINK_MAX_AGE_SECONDS = 3600
    # Another customer's valid link cannot reach this customer's invoice or method.
    other = CustomerFactory(organization=organization, external_id="portal-2")
    other_path = f"/portal/{portal.portal_token(other)}/"
    assert "ACME-001" not in client.get(other_path).content.decode()
    assert client.get(f"{other_path}invoices/{open_invoice.id}/pdf").status_code == 404
    method = PaymentMethod.objects.get(customer=customer)
    assert client.post(f"{other_path}payment_methods/{method.id}/remove").status_code == 404
    assert client.get(f"{other_path}invoices/not-a-uuid/pdf").status_code == 404
    assert PaymentMethod.objects.filter(id=method.id).exists()


def test_portal_url_is_tenant_scoped(api, other_tenant, setup):
    response = other_tenant.client.get("/api/v1/customers/portal-1/portal_url")
    assert response.status_code == 404 and response.json()["code"] == "customer_not_found"


def test_customer_sets_default_removes_and_pays(api, client, organization, setup, fake_stripe):
    customer, open_invoice, _ = setup
    path = _link(api, "portal-1")
    path = path[path.index("/portal/") :]
    first = PaymentMethod.objects.get(customer=customer)
    PaymentMethod.objects.filter(id=first.id).update(is_default=False)
    second = PaymentMethod.objects.create(
        organization=organization, customer=customer, connection=first.connection, provider_method_id="pm_other",
        method_type="card", is_default=True,
    )  # fmt: skip
    response = client.post(f"{path}payment_methods/{first.id}/default")
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.is_default
    assert client.post(f"{path}payment_methods/{second.id}/remove").status_code == 302
    assert not PaymentMethod.objects.filter(id=second.id).exists()
    pay = client.post(f"{path}invoices/{open_invoice.id}/pay")
    assert pay.status_code == 302 and pay["Location"].startswith("http")
    assert client.get(f"{path}invoices/{open_invoice.id}/pay").status_code == 405


def test_the_portal_shows_current_usage_priced_so_far(api, client, organization):
    import datetime as dt

    from django.utils import timezone

    from tests.factories.invoicing import add_events, make_charge, make_metric, make_plan, subscribe

    customer = CustomerFactory(organization=organization, external_id="portal-usage", currency="USD")
    plan = make_plan(organization, amount_cents=0, name="Usage plan")
    metric = make_metric(organization, code="api_calls", name="API calls")
    make_charge(plan, metric, properties={"amount": "0.25"})
    now = timezone.now()
    subscription = subscribe(customer, plan, now - dt.timedelta(days=40))
    add_events(subscription, "api_calls", [now - dt.timedelta(minutes=m) for m in range(1, 8)])
    stranger = CustomerFactory(organization=organization, external_id="portal-other", currency="USD")
    other = subscribe(stranger, plan, now - dt.timedelta(days=40))
    add_events(other, "api_calls", [now - dt.timedelta(minutes=m) for m in range(1, 50)])

    url = _link(api, "portal-usage")
    html = client.get(url[url.index("/portal/") :]).content.decode()
    assert "Current usage" in html and "Usage plan" in html
    assert "API calls" in html and "7 units" in html
    assert "1.75 USD" in html  # 7 calls at 0.25 USD, before taxes
    assert "49 units" not in html and "12.25" not in html  # another customer's usage never shows
    assert "Paid with your default payment method" in html
    subscription.payment_method_type = "manual"
    subscription.save()
    html = client.get(url[url.index("/portal/") :]).content.decode()
    assert "Paid by hand: bank transfer, or the Pay button of its invoices" in html
