"""Several payment methods per customer: list, set as default, delete (Lago's routes and shapes);
the default is the one collection charges."""

from __future__ import annotations

import pytest

from payments.models import PaymentMethod, PaymentStatus
from payments.services import collection
from tests.factories.payments import adyen_connection, finalized_invoice, provider_customer, stripe_connection

pytestmark = pytest.mark.django_db


def _customer_with_two_cards(organization, connection, external_id="pm-cust"):
    customer = provider_customer(
        organization, connection, provider_customer_id=external_id, method="card_refused", currency="EUR",
        external_id=external_id,
    )  # fmt: skip
    first = PaymentMethod.objects.get(customer=customer)
    first.details = {"brand": "visa", "last4": "0002"}
    first.save()
    PaymentMethod.objects.filter(id=first.id).update(is_default=False)
    second = PaymentMethod.objects.create(
        organization=organization, customer=customer, connection=connection, provider_method_id="card_ok",
        method_type="card", is_default=True,
    )  # fmt: skip
    first.refresh_from_db()
    return customer, first, second


def test_list_in_lagos_shape_default_first(api, organization):
    connection = adyen_connection(organization, name="Adyen EU")
    _, first, second = _customer_with_two_cards(organization, connection)
    response = api.get("/api/v1/customers/pm-cust/payment_methods")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["total_count"] == 2
    assert [m["lago_id"] for m in body["payment_methods"]] == [str(second.id), str(first.id)]
    item = body["payment_methods"][1]
    assert item == {
        "lago_id": str(first.id),
        "is_default": False,
        "payment_provider_code": "adyen_1",
        "payment_provider_name": "Adyen EU",
        "payment_provider_type": "adyen",
        "provider_method_id": "card_refused",
        "method_type": "card",
        "details": {"brand": "visa", "last4": "0002"},
        "created_at": item["created_at"],
    }
    assert item["created_at"].endswith("Z")


def test_set_as_default_switches_the_method_collection_charges(api, organization, fake_adyen):
    connection = adyen_connection(organization)
    customer, first, second = _customer_with_two_cards(organization, connection)
    response = api.put(f"/api/v1/customers/pm-cust/payment_methods/{first.id}/set_as_default")
    assert response.status_code == 200, response.content
    assert response.json()["payment_method"]["is_default"] is True
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.is_default and not second.is_default
    # Asked again: the same answer, still one default.
    assert api.put(f"/api/v1/customers/pm-cust/payment_methods/{first.id}/set_as_default").status_code == 200
    assert PaymentMethod.objects.filter(customer=customer, is_default=True).count() == 1
    invoice = finalized_invoice(customer, 1000, currency="EUR")
    payment = collection.invoice_collect(invoice.id)
    assert payment is not None and payment.provider_method_id == "card_refused"
    payment = collection.payment_submit(payment.id)
    assert payment.status == PaymentStatus.FAILED


def test_delete_stops_using_the_method(api, organization):
    connection = stripe_connection(organization)
    customer, first, second = _customer_with_two_cards(organization, connection)
    response = api.delete(f"/api/v1/customers/pm-cust/payment_methods/{second.id}")
    assert response.status_code == 200
    assert response.json()["payment_method"]["lago_id"] == str(second.id)
    assert response.json()["payment_method"]["is_default"] is False
    assert list(PaymentMethod.objects.filter(customer=customer)) == [first]
    assert not first.is_default  # as Lago: no other method is promoted
    assert api.delete(f"/api/v1/customers/pm-cust/payment_methods/{second.id}").status_code == 404


def test_unknown_ids_and_customers_are_404_in_lagos_shape(api, organization):
    connection = stripe_connection(organization)
    _customer_with_two_cards(organization, connection)
    for method, path in [
        ("get", "/api/v1/customers/nobody/payment_methods"),
        ("put", "/api/v1/customers/pm-cust/payment_methods/not-a-uuid/set_as_default"),
        ("delete", "/api/v1/customers/pm-cust/payment_methods/5b6f1c0e-4f57-4a4d-9f39-9c1d5e4b0a11"),
    ]:
        response = getattr(api, method)(path)
        assert response.status_code == 404
        assert response.json()["error"] == "Not Found"
        assert response.json()["code"] in ("customer_not_found", "payment_method_not_found")


def test_another_tenant_sees_nothing(api, organization, other_tenant):
    connection = stripe_connection(organization)
    _, first, _ = _customer_with_two_cards(organization, connection)
    theirs = other_tenant.client
    assert theirs.get("/api/v1/customers/pm-cust/payment_methods").status_code == 404
    assert theirs.put(f"/api/v1/customers/pm-cust/payment_methods/{first.id}/set_as_default").status_code == 404
    assert theirs.delete(f"/api/v1/customers/pm-cust/payment_methods/{first.id}").status_code == 404
    # Their customer with the same external id does not reach ours either.
    from tests.factories.customers import CustomerFactory

    CustomerFactory(organization=other_tenant.organization, external_id="pm-cust")
    assert theirs.get("/api/v1/customers/pm-cust/payment_methods").json()["payment_methods"] == []
    assert theirs.delete(f"/api/v1/customers/pm-cust/payment_methods/{first.id}").status_code == 404
    assert PaymentMethod.objects.filter(id=first.id).exists()


def test_a_method_of_another_customer_of_the_same_tenant_is_404(api, organization):
    connection = stripe_connection(organization)
    _, first, _ = _customer_with_two_cards(organization, connection, external_id="a")
    _customer_with_two_cards(organization, connection, external_id="b")
    assert api.put(f"/api/v1/customers/b/payment_methods/{first.id}/set_as_default").status_code == 404
