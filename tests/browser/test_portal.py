"""The customer portal in a real browser on a phone-sized window: the customer opens the link,
sees invoices, receipts, credits and methods with their currencies, downloads a PDF, makes another
method the default; a tampered link shows nothing. Screenshots in artifacts/screenshots/."""

from __future__ import annotations

import pytest

from payments import portal
from payments.models import PaymentMethod
from payments.services import collection
from tests.factories.credits import make_wallet
from tests.factories.customers import CustomerFactory, OrganizationFactory
from tests.factories.payments import finalized_invoice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_walks_the_portal_on_a_phone(browser, live_server, shoot):
    organization = OrganizationFactory(name="Acme Cloud")
    from payments.services.connections import connection_create

    connection = connection_create(organization, code="manual_1", provider="manual")
    customer = CustomerFactory(organization=organization, external_id="jane", name="Jane Buyer", email="j@b.test")
    open_invoice = finalized_invoice(customer, 12_345, currency="EUR", number="ACME-001")
    paid = finalized_invoice(customer, 4_900, currency="EUR", number="ACME-002")
    collection.payment_create_manual(organization, invoice_id=paid.id, amount_cents=4_900, reference="wire")
    make_wallet(customer, granted="25", currency="EUR", name="Credits")
    card = PaymentMethod.objects.create(
        organization=organization, customer=customer, connection=connection, provider_method_id="pm_1",
        method_type="card", details={"brand": "visa", "last4": "4242"}, is_default=True,
    )  # fmt: skip
    other = PaymentMethod.objects.create(
        organization=organization, customer=customer, connection=connection, provider_method_id="pm_2",
        method_type="card", details={"brand": "mastercard", "last4": "4444"}, is_default=False,
    )  # fmt: skip
    path = f"/portal/{portal.portal_token(customer)}/"

    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(live_server.url + path)
    body = page.inner_text("body")
    assert "Jane Buyer" in body and "ACME-001" in body and "ACME-002" in body
    assert "123.45" in body and "EUR" in body and "25.00" in body and "4242" in body
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the portal is {overflow}px wider than a phone"
    shoot(page, "portal-01-home-phone")

    with page.expect_download() as download:
        page.click(f"a[href*='/invoices/{open_invoice.id}/pdf']")
    assert download.value.suggested_filename == "ACME-001.pdf"

    page.goto(live_server.url + path)
    page.click(f"form[action$='/payment_methods/{other.id}/default'] button")
    page.wait_for_selector("text=Default payment method updated.")
    other.refresh_from_db()
    card.refresh_from_db()
    assert other.is_default and not card.is_default
    shoot(page, "portal-02-default-changed")

    page.goto(live_server.url + path[:-3] + "xx/")
    assert "Jane" not in page.inner_text("body")
    shoot(page, "portal-03-tampered-link")
    page.close()
