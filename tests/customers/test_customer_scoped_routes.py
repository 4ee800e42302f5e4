"""Lago's customer-scoped routes: `GET /customers/{external_id}/<list>` answers the top-level list
filtered to the customer (same filters, pagination, shapes), customer wallets by code and their
metadata; another organization's customer is 404, bad input 422 with nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from invoicing.credits.models import Wallet
from invoicing.models import Invoice
from payments.services import collection, dunning
from tests.factories.catalog import AppliedCouponFactory, CouponFactory
from tests.factories.credits import make_credit_note, make_one_off_invoice, make_wallet
from tests.factories.customers import CustomerFactory
from tests.factories.invoicing import make_plan, subscribe

pytestmark = pytest.mark.django_db

LISTS = ["invoices", "subscriptions", "credit_notes", "payments", "payment_requests", "applied_coupons", "wallets"]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _history(customer):
    """One or two of everything the customer-scoped lists show, for one customer."""
    organization = customer.organization
    invoice = make_one_off_invoice(customer, 5000)
    make_one_off_invoice(customer, 700)
    make_credit_note(invoice, credit=1000)
    collection.payment_create_manual(organization, invoice_id=invoice.id, amount_cents=1500, reference="wire 1")
    overdue = make_one_off_invoice(customer, 600)
    Invoice.objects.filter(id=overdue.id).update(payment_overdue=True, payment_status="failed")
    dunning.payment_request_create(
        organization, external_customer_id=customer.external_id, email=None, invoice_ids=[str(overdue.id)]
    )
    subscribe(customer, make_plan(organization), datetime(2024, 1, 1, tzinfo=UTC))
    AppliedCouponFactory(organization=organization, customer=customer, coupon=CouponFactory(organization=organization))
    make_wallet(customer, granted="10", code="main")


@pytest.fixture
def customers(organization, media):
    mine, neighbour = CustomerFactory(organization=organization), CustomerFactory(organization=organization)
    _history(mine)
    _history(neighbour)
    return mine, neighbour


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
@pytest.mark.parametrize("name", LISTS)
def test_a_customer_list_is_the_top_level_list_filtered_to_the_customer(api, customers, name, prefix):
    mine, _ = customers
    scoped = api.get(f"{prefix}/customers/{mine.external_id}/{name}")
    top = api.get(f"{prefix}/{name}", {"external_customer_id": mine.external_id})
    assert scoped.status_code == 200, scoped.content
    assert scoped.json() == top.json()
    assert scoped.json()["meta"]["total_count"] >= 1
    everyone = api.get(f"{prefix}/{name}").json()["meta"]["total_count"]
    assert everyone > scoped.json()["meta"]["total_count"]


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("invoices", {"per_page": 1, "page": 2}),
        ("invoices", {"amount_from": 1000}),
        ("invoices", {"statuses[]": "draft"}),
        ("subscriptions", {"status[]": "terminated"}),
        ("credit_notes", {"reason": "other"}),
        ("credit_notes", {"amount_from": 500, "search_term": "CN"}),
        ("payments", {"per_page": 1}),
        ("payment_requests", {"payment_status": "succeeded"}),
        ("applied_coupons", {"status": "terminated"}),
        ("wallets", {"status": "terminated"}),
        ("wallets", {"currency": "usd"}),
    ],
)
def test_a_customer_list_takes_the_top_level_filters(api, customers, name, query):
    mine, _ = customers
    scoped = api.get(f"/api/v1/customers/{mine.external_id}/{name}", query)
    top = api.get(f"/api/v1/{name}", {**query, "external_customer_id": mine.external_id})
    assert scoped.status_code == 200 and scoped.json() == top.json()
    # The path's customer wins over one in the query.
    other = api.get(f"/api/v1/customers/{mine.external_id}/{name}", {**query, "external_customer_id": "x"})
    assert other.json() == scoped.json()


@pytest.mark.parametrize("name", LISTS)
def test_a_customer_list_refuses_bad_filters(api, customers, name):
    mine, _ = customers
    response = api.get(f"/api/v1/customers/{mine.external_id}/{name}", {"page": "zero"})
    assert response.status_code == 422
    assert response.json()["error_details"] == {"page": ["value_is_invalid"]}


@pytest.mark.parametrize("name", LISTS)
def test_another_organizations_customer_is_not_found(api, other_tenant, customers, name):
    theirs = CustomerFactory(organization=other_tenant.organization)
    for external_id in (theirs.external_id, "nobody"):
        response = api.get(f"/api/v1/customers/{external_id}/{name}")
        assert response.status_code == 404
        assert response.json() == {"status": 404, "error": "Not Found", "code": "customer_not_found"}
    # ... and the other organization does not see ours.
    mine, _ = customers
    assert other_tenant.client.get(f"/api/v1/customers/{mine.external_id}/{name}").status_code == 404


def test_customer_wallet_create_read_update_and_metadata(api, organization):
    customer = CustomerFactory(organization=organization, currency="USD")
    created = api.post(
        f"/v1/customers/{customer.external_id}/wallets",
        {"wallet": {"rate_amount": "1", "code": "prepaid", "name": "Prepaid", "granted_credits": "5"}},
        format="json",
    )
    assert created.status_code == 200, created.content
    wallet = created.json()["wallet"]
    assert (wallet["external_customer_id"], wallet["code"], wallet["credits_balance"]) == (
        customer.external_id,
        "prepaid",
        "5.0",
    )
    base = f"/api/v1/customers/{customer.external_id}/wallets/prepaid"
    assert api.get(base).json()["wallet"]["lago_id"] == wallet["lago_id"]
    assert api.put(base, {"wallet": {"name": "Renamed"}}, format="json").json()["wallet"]["name"] == "Renamed"

    metadata = f"{base}/metadata"
    assert api.post(metadata, {"metadata": {"a": "1", "b": "2"}}, format="json").json() == {
        "metadata": {"a": "1", "b": "2"}
    }
    assert api.patch(metadata, {"metadata": {"b": "3", "c": None}}, format="json").json() == {
        "metadata": {"a": "1", "b": "3", "c": None}
    }
    assert api.delete(f"{metadata}/a").json() == {"metadata": {"b": "3", "c": None}}
    assert api.get(f"/api/v1/wallets/{wallet['lago_id']}").json()["wallet"]["metadata"] == {"b": "3", "c": None}
    assert api.delete(metadata).json() == {"metadata": {}}


def test_customer_wallet_bad_input_stores_nothing(api, organization):
    customer = CustomerFactory(organization=organization, currency="USD")
    bad = api.post(
        f"/api/v1/customers/{customer.external_id}/wallets", {"wallet": {"rate_amount": "-1"}}, format="json"
    )
    assert bad.status_code == 422
    assert bad.json()["error_details"] == {"rate_amount": ["invalid_amount"]}
    missing = api.post(f"/api/v1/customers/{customer.external_id}/wallets", {"x": {}}, format="json")
    assert missing.status_code == 400
    assert not Wallet.objects.filter(customer=customer).exists()

    make_wallet(customer, code="main", metadata={"k": "v"})
    bad_metadata = api.post(
        f"/api/v1/customers/{customer.external_id}/wallets/main/metadata", {"metadata": {"k": 1}}, format="json"
    )
    assert bad_metadata.status_code == 422
    assert bad_metadata.json()["error_details"] == {"metadata": ["value_is_invalid"]}
    assert Wallet.objects.get(customer=customer).metadata == {"k": "v"}


def test_customer_wallet_routes_are_tenant_scoped(api, organization, other_tenant):
    theirs = CustomerFactory(organization=other_tenant.organization, currency="USD")
    make_wallet(theirs, code="main", metadata={"k": "v"})
    base = f"/api/v1/customers/{theirs.external_id}"
    create = api.post(f"{base}/wallets", {"wallet": {"rate_amount": "1"}}, format="json")
    assert (create.status_code, create.json()["code"]) == (404, "customer_not_found")
    for method, path, body in [
        ("get", f"{base}/wallets/main", None),
        ("put", f"{base}/wallets/main", {"wallet": {"name": "x"}}),
        ("post", f"{base}/wallets/main/metadata", {"metadata": {"x": "y"}}),
        ("patch", f"{base}/wallets/main/metadata", {"metadata": {"x": "y"}}),
        ("delete", f"{base}/wallets/main/metadata", None),
        ("delete", f"{base}/wallets/main/metadata/k", None),
    ]:
        response = getattr(api, method)(path, body, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] in {"customer_not_found", "wallet_not_found"}
    [wallet] = Wallet.objects.filter(customer=theirs)
    assert (wallet.name, wallet.metadata) == ("", {"k": "v"})


def test_lago_client_customer_wallets(lago):
    from lago_python_client.exceptions import LagoApiError
    from lago_python_client.models import Customer
    from lago_python_client.models import Wallet as WalletInput

    client = lago.client
    client.customers.create(Customer(external_id="cw-1", currency="USD"))
    wallet = client.customers.wallets.create("cw-1", WalletInput(rate_amount="1", code="prepaid", granted_credits="3"))
    assert (wallet.code, wallet.credits_balance) == ("prepaid", "3.0")
    assert client.customers.wallets.find("cw-1", "prepaid").lago_id == wallet.lago_id
    listed = client.customers.wallets.find_all("cw-1")
    assert [w.lago_id for w in listed["wallets"]] == [wallet.lago_id]
    assert client.customers.wallets.update("cw-1", "prepaid", WalletInput(name="Renamed")).name == "Renamed"
    assert client.customers.wallets.metadata.replace("cw-1", "prepaid", {"a": "1"}) == {"a": "1"}
    assert client.customers.wallets.metadata.merge("cw-1", "prepaid", {"b": "2"}) == {"a": "1", "b": "2"}
    assert client.customers.wallets.metadata.delete_key("cw-1", "prepaid", "a") == {"b": "2"}
    assert client.customers.wallets.metadata.delete_all("cw-1", "prepaid") == {}
    # The client's customer-scoped lists send no API key (a client bug): 401, as from Lago.
    with pytest.raises(LagoApiError) as refused:
        client.customer_invoices.find_all("cw-1")
    assert refused.value.status_code == 401
