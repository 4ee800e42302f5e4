"""The second half of Lago's operations checked against the specification's shapes (the checker,
the table and the first half are in tests/core/test_lago_shapes.py): plans' charges, filters, fixed
charges and metadata, subscriptions' overrides, alerts, lifetime usage and entitlements, features,
customers' scoped routes, usage and wallets, wallet metadata and traceability, invoices' actions,
payments and payment requests, analytics, organizations, webhook endpoints and events' estimates.
The payment-method routes, which need a payment provider, are in
tests/payments/test_lago_shapes_payments.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from customers.models import Customer
from invoicing.billing.run import customer_bill
from invoicing.models import Fee, Invoice, InvoiceStatus
from invoicing.services.advance import pay_in_advance_fees
from tests.core.test_lago_shapes import Lago
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe
from tests.factories.payments import finalized_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def lago_api(tenant):
    return Lago(tenant.client)


def _catalog(api: Lago) -> str:
    """A metric `calls` (with a `region` filter), an add-on `seats` and a plan `basic` with a charge
    `calls`; returns the metric's id."""
    metric = api.call(
        "POST",
        "/billable_metrics",
        body={"billable_metric": {"name": "Calls", "code": "calls", "aggregation_type": "count_agg",
                                  "filters": [{"key": "region", "values": ["eu", "us"]}]}},
    )["billable_metric"]  # fmt: skip
    api.call(
        "POST",
        "/add_ons",
        body={"add_on": {"name": "Seats", "code": "seats", "amount_cents": 500, "amount_currency": "EUR"}},
    )
    plan = {
        "name": "Basic", "code": "basic", "interval": "monthly", "amount_cents": 1000, "amount_currency": "EUR",
        "charges": [{"billable_metric_id": metric["lago_id"], "code": "calls", "charge_model": "standard",
                     "properties": {"amount": "0.5"}}],
    }  # fmt: skip
    api.call("POST", "/plans", body={"plan": plan})
    return metric["lago_id"]


def _customer_and_subscription(api: Lago) -> None:
    api.call("POST", "/customers", body={"customer": {"external_id": "cus_1", "name": "Acme", "currency": "EUR",
                                                      "email": "ap@acme.test"}})  # fmt: skip
    api.call(
        "POST",
        "/subscriptions",
        body={"subscription": {"external_customer_id": "cus_1", "plan_code": "basic", "external_id": "sub_1"}},
    )


def test_plan_items_and_metadata(lago_api):
    api = lago_api
    metric_id = _catalog(api)
    charge = {"billable_metric_id": metric_id, "code": "calls_eu", "charge_model": "standard",
              "properties": {"amount": "1"}}  # fmt: skip
    api.call("POST", "/plans/{code}/charges", "/plans/basic/charges", body={"charge": charge})
    api.call("GET", "/plans/{code}/charges", "/plans/basic/charges")
    api.call("GET", "/plans/{code}/charges/{charge_code}", "/plans/basic/charges/calls_eu")
    api.call(
        "PUT",
        "/plans/{code}/charges/{charge_code}",
        "/plans/basic/charges/calls_eu",
        body={"charge": {"invoice_display_name": "EU calls"}},
    )
    filters = "/plans/basic/charges/calls_eu/filters"
    created = api.call(
        "POST",
        "/plans/{code}/charges/{charge_code}/filters",
        filters,
        body={"filter": {"values": {"region": ["eu"]}, "properties": {"amount": "2"}}},
    )["filter"]
    api.call("GET", "/plans/{code}/charges/{charge_code}/filters", filters)
    one = f"{filters}/{created['lago_id']}"
    api.call("GET", "/plans/{code}/charges/{charge_code}/filters/{filter_id}", one)
    api.call(
        "PUT",
        "/plans/{code}/charges/{charge_code}/filters/{filter_id}",
        one,
        body={"filter": {"invoice_display_name": "Europe"}},
    )
    api.call("DELETE", "/plans/{code}/charges/{charge_code}/filters/{filter_id}", one)
    api.call("DELETE", "/plans/{code}/charges/{charge_code}", "/plans/basic/charges/calls_eu")

    fixed = {"add_on_code": "seats", "code": "seats", "charge_model": "standard", "units": "3",
             "properties": {"amount": "4"}}  # fmt: skip
    api.call("POST", "/plans/{code}/fixed_charges", "/plans/basic/fixed_charges", body={"fixed_charge": fixed})
    api.call("GET", "/plans/{code}/fixed_charges", "/plans/basic/fixed_charges")
    api.call("GET", "/plans/{code}/fixed_charges/{fixed_charge_code}", "/plans/basic/fixed_charges/seats")
    api.call(
        "PUT",
        "/plans/{code}/fixed_charges/{fixed_charge_code}",
        "/plans/basic/fixed_charges/seats",
        body={"fixed_charge": {"units": "5"}},
    )

    api.call("POST", "/plans/{code}/metadata", "/plans/basic/metadata", body={"metadata": {"tier": "one"}})
    api.call("PATCH", "/plans/{code}/metadata", "/plans/basic/metadata", body={"metadata": {"team": "growth"}})
    api.call("DELETE", "/plans/{code}/metadata/{key}", "/plans/basic/metadata/tier")
    api.call("DELETE", "/plans/{code}/metadata", "/plans/basic/metadata")

    _customer_and_subscription(api)
    sub = "/subscriptions/sub_1"
    api.call("GET", "/subscriptions/{external_id}/fixed_charges", f"{sub}/fixed_charges")
    api.call("GET", "/subscriptions/{external_id}/fixed_charges/{fixed_charge_code}", f"{sub}/fixed_charges/seats")
    api.call(
        "PUT",
        "/subscriptions/{external_id}/fixed_charges/{fixed_charge_code}",
        f"{sub}/fixed_charges/seats",
        body={"fixed_charge": {"units": "7"}},
    )
    api.call("DELETE", "/plans/{code}/fixed_charges/{fixed_charge_code}", "/plans/basic/fixed_charges/seats")

    api.call("GET", "/subscriptions/{external_id}/charges", f"{sub}/charges")
    api.call("GET", "/subscriptions/{external_id}/charges/{charge_code}", f"{sub}/charges/calls")
    api.call(
        "PUT",
        "/subscriptions/{external_id}/charges/{charge_code}",
        f"{sub}/charges/calls",
        body={"charge": {"properties": {"amount": "0.75"}}},
    )
    sub_filters = f"{sub}/charges/calls/filters"
    created = api.call(
        "POST",
        "/subscriptions/{external_id}/charges/{charge_code}/filters",
        sub_filters,
        body={"filter": {"values": {"region": ["us"]}, "properties": {"amount": "0.25"}}},
    )["filter"]
    api.call("GET", "/subscriptions/{external_id}/charges/{charge_code}/filters", sub_filters)
    one = f"{sub_filters}/{created['lago_id']}"
    api.call("GET", "/subscriptions/{external_id}/charges/{charge_code}/filters/{filter_id}", one)
    api.call(
        "PUT",
        "/subscriptions/{external_id}/charges/{charge_code}/filters/{filter_id}",
        one,
        body={"filter": {"properties": {"amount": "0.3"}}},
    )
    api.call("DELETE", "/subscriptions/{external_id}/charges/{charge_code}/filters/{filter_id}", one)


def test_subscription_alerts_lifetime_usage_and_entitlements(lago_api):
    api = lago_api
    _catalog(api)
    _customer_and_subscription(api)
    sub = "/subscriptions/sub_1"
    alert = {"alert_type": "current_usage_amount", "code": "warn", "name": "Usage warning",
             "thresholds": [{"code": "warn", "value": "10000"}]}  # fmt: skip
    api.call("POST", "/subscriptions/{external_id}/alerts", f"{sub}/alerts", body={"alert": alert})
    api.call("GET", "/subscriptions/{external_id}/alerts", f"{sub}/alerts")
    api.call("GET", "/subscriptions/{external_id}/alerts/{code}", f"{sub}/alerts/warn")
    api.call("PUT", "/subscriptions/{external_id}/alerts/{code}", f"{sub}/alerts/warn", body={"alert": {"name": "W"}})
    api.call("DELETE", "/subscriptions/{external_id}/alerts/{code}", f"{sub}/alerts/warn")
    api.call("POST", "/subscriptions/{external_id}/alerts", f"{sub}/alerts", body={"alert": alert})
    api.call("DELETE", "/subscriptions/{external_id}/alerts", f"{sub}/alerts")

    api.call("GET", "/subscriptions/{external_id}/lifetime_usage", f"{sub}/lifetime_usage")
    api.call(
        "PUT",
        "/subscriptions/{external_id}/lifetime_usage",
        f"{sub}/lifetime_usage",
        body={"lifetime_usage": {"external_historical_usage_amount_cents": 1200}},
    )

    feature = {"code": "seats", "name": "Seats", "privileges": [{"code": "max", "value_type": "integer"},
                                                                {"code": "sso", "value_type": "boolean"}]}  # fmt: skip
    api.call("POST", "/features", body={"feature": feature})
    api.call("GET", "/features")
    api.call("GET", "/features/{code}", "/features/seats")
    api.call("PUT", "/features/{code}", "/features/seats", body={"feature": {"name": "Seats in the account"}})
    plan = "/plans/basic/entitlements"
    api.call("POST", "/plans/{code}/entitlements", plan, body={"entitlements": {"seats": {"max": 10, "sso": True}}})
    api.call("GET", "/plans/{code}/entitlements", plan)
    api.call("PATCH", "/plans/{code}/entitlements", plan, body={"entitlements": {"seats": {"max": 12}}})
    api.call("GET", "/plans/{code}/entitlements/{feature_code}", f"{plan}/seats")
    api.call("GET", "/subscriptions/{external_id}/entitlements", f"{sub}/entitlements")
    api.call(
        "PATCH", "/subscriptions/{external_id}/entitlements", f"{sub}/entitlements",
        body={"entitlements": {"seats": {"max": 20}}},
    )  # fmt: skip
    api.call(
        "DELETE",
        "/subscriptions/{external_id}/entitlements/{feature_code}/privileges/{privilege_code}",
        f"{sub}/entitlements/seats/privileges/max",
    )
    api.call("DELETE", "/subscriptions/{external_id}/entitlements/{feature_code}", f"{sub}/entitlements/seats")
    api.call(
        "DELETE",
        "/plans/{code}/entitlements/{feature_code}/privileges/{privilege_code}",
        f"{plan}/seats/privileges/sso",
    )
    api.call("DELETE", "/plans/{code}/entitlements/{feature_code}", f"{plan}/seats")
    api.call("DELETE", "/features/{code}/privileges/{privilege_code}", "/features/seats/privileges/sso")
    api.call("DELETE", "/features/{code}", "/features/seats")


def test_customer_scoped_routes_usage_and_wallets(lago_api):
    api = lago_api
    _catalog(api)
    _customer_and_subscription(api)
    event = {"transaction_id": "tr_1", "external_subscription_id": "sub_1", "code": "calls",
             "properties": {"region": "eu"}}  # fmt: skip
    api.call("POST", "/events", body={"event": event})
    api.call(
        "POST",
        "/coupons",
        body={"coupon": {"name": "Ten", "code": "ten", "coupon_type": "fixed_amount", "amount_cents": 1000,
                         "amount_currency": "EUR", "frequency": "once", "expiration": "no_expiration"}},
    )  # fmt: skip
    applied = api.call(
        "POST", "/applied_coupons", body={"applied_coupon": {"external_customer_id": "cus_1", "coupon_code": "ten"}}
    )["applied_coupon"]
    customer = "/customers/cus_1"
    api.call("GET", "/customers/{external_customer_id}/invoices", f"{customer}/invoices")
    api.call("GET", "/customers/{external_customer_id}/subscriptions", f"{customer}/subscriptions")
    api.call("GET", "/customers/{external_customer_id}/credit_notes", f"{customer}/credit_notes")
    api.call("GET", "/customers/{external_customer_id}/payments", f"{customer}/payments")
    api.call("GET", "/customers/{external_customer_id}/payment_requests", f"{customer}/payment_requests")
    api.call("GET", "/customers/{external_customer_id}/applied_coupons", f"{customer}/applied_coupons")
    api.call(
        "DELETE",
        "/customers/{external_customer_id}/applied_coupons/{applied_coupon_id}",
        f"{customer}/applied_coupons/{applied['lago_id']}",
    )
    api.call("GET", "/customers/{external_customer_id}/current_usage", f"{customer}/current_usage",
             external_subscription_id="sub_1")  # fmt: skip
    api.call("GET", "/customers/{external_customer_id}/projected_usage", f"{customer}/projected_usage",
             external_subscription_id="sub_1")  # fmt: skip
    api.call("GET", "/customers/{external_customer_id}/past_usage", f"{customer}/past_usage",
             external_subscription_id="sub_1")  # fmt: skip
    api.call("GET", "/customers/{external_customer_id}/portal_url", f"{customer}/portal_url")

    wallets = f"{customer}/wallets"
    api.call(
        "POST",
        "/customers/{external_customer_id}/wallets",
        wallets,
        body={"wallet": {"code": "prepaid", "name": "Prepaid", "rate_amount": "1", "currency": "EUR",
                         "granted_credits": "10"}},
    )  # fmt: skip
    api.call("GET", "/customers/{external_customer_id}/wallets", wallets)
    wallet = f"{wallets}/prepaid"
    api.call("GET", "/customers/{external_customer_id}/wallets/{code}", wallet)
    api.call("PUT", "/customers/{external_customer_id}/wallets/{code}", wallet, body={"wallet": {"name": "Credits"}})
    meta = f"{wallet}/metadata"
    api.call(
        "POST", "/customers/{external_customer_id}/wallets/{wallet_code}/metadata", meta,
        body={"metadata": {"po": "42", "team": "ops"}},
    )  # fmt: skip
    api.call(
        "PATCH", "/customers/{external_customer_id}/wallets/{wallet_code}/metadata", meta,
        body={"metadata": {"cost_center": "7"}},
    )  # fmt: skip
    api.call("DELETE", "/customers/{external_customer_id}/wallets/{wallet_code}/metadata/{key}", f"{meta}/po")
    api.call("DELETE", "/customers/{external_customer_id}/wallets/{wallet_code}/metadata", meta)
    alerts = f"{wallet}/alerts"
    body = {"alert": {"alert_type": "wallet_balance_amount", "code": "low", "thresholds": [{"value": "500"}]}}
    api.call("POST", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts", alerts, body=body)
    api.call("GET", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts", alerts)
    api.call("GET", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts/{code}", f"{alerts}/low")
    api.call(
        "PUT", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts/{code}", f"{alerts}/low",
        body={"alert": {"name": "Low balance"}},
    )  # fmt: skip
    api.call("DELETE", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts/{code}", f"{alerts}/low")
    api.call("POST", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts", alerts, body=body)
    api.call("DELETE", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts", alerts)
    api.call("DELETE", "/customers/{external_customer_id}/wallets/{code}", wallet)


def test_wallet_metadata_and_traceability(lago_api):
    api = lago_api
    api.call("POST", "/customers", body={"customer": {"external_id": "cus_1", "name": "Acme", "currency": "EUR"}})
    wallet = api.call(
        "POST",
        "/wallets",
        body={"wallet": {"external_customer_id": "cus_1", "rate_amount": "1", "currency": "EUR",
                         "granted_credits": "10"}},
    )["wallet"]  # fmt: skip
    meta = f"/wallets/{wallet['lago_id']}/metadata"
    api.call("POST", "/wallets/{lago_id}/metadata", meta, body={"metadata": {"po": "42"}})
    api.call("PATCH", "/wallets/{lago_id}/metadata", meta, body={"metadata": {"team": "ops"}})
    api.call("DELETE", "/wallets/{lago_id}/metadata/{key}", f"{meta}/po")
    api.call("DELETE", "/wallets/{lago_id}/metadata", meta)
    voided = api.call(
        "POST",
        "/wallet_transactions",
        body={"wallet_transaction": {"wallet_id": wallet["lago_id"], "voided_credits": "4"}},
    )["wallet_transactions"][0]
    transactions = api.call(
        "GET", "/wallets/{lago_id}/wallet_transactions", f"/wallets/{wallet['lago_id']}/wallet_transactions"
    )["wallet_transactions"]
    granted = next(t for t in transactions if t["transaction_type"] == "inbound")
    api.call("GET", "/wallet_transactions/{lago_id}", f"/wallet_transactions/{granted['lago_id']}")
    api.call(
        "GET", "/wallet_transactions/{lago_id}/consumptions", f"/wallet_transactions/{granted['lago_id']}/consumptions"
    )
    api.call("GET", "/wallet_transactions/{lago_id}/fundings", f"/wallet_transactions/{voided['lago_id']}/fundings")


def test_invoice_actions_payments_and_requests(lago_api):
    api = lago_api
    api.call("POST", "/customers", body={"customer": {"external_id": "cus_1", "name": "Acme", "currency": "EUR",
                                                      "email": "ap@acme.test"}})  # fmt: skip
    api.call(
        "POST",
        "/add_ons",
        body={"add_on": {"name": "Setup", "code": "setup", "amount_cents": 1000, "amount_currency": "EUR"}},
    )
    invoice = api.call(
        "POST",
        "/invoices",
        body={"invoice": {"external_customer_id": "cus_1", "currency": "EUR",
                          "fees": [{"add_on_code": "setup", "units": "1"}]}},
    )["invoice"]  # fmt: skip
    one = f"/invoices/{invoice['lago_id']}"
    api.call("POST", "/invoices/{lago_id}/download", f"{one}/download")
    api.call(
        "POST",
        "/plans",
        body={"plan": {"name": "Basic", "code": "basic", "interval": "monthly", "amount_cents": 1000,
                       "amount_currency": "EUR"}},
    )  # fmt: skip
    api.call(
        "POST",
        "/invoices/preview",
        body={"customer": {"name": "Prospect", "currency": "EUR"}, "plan_code": "basic", "billing_time": "calendar"},
    )
    payment = api.call(
        "POST",
        "/payments",
        body={"payment": {"invoice_id": invoice["lago_id"], "amount_cents": 400, "reference": "wire-1"}},
    )["payment"]
    api.call("GET", "/payments")
    api.call("GET", "/payments/{lago_id}", f"/payments/{payment['lago_id']}")

    late = api.call(
        "POST", "/customers", body={"customer": {"external_id": "cus_2", "name": "Late", "currency": "EUR"}}
    )
    customer = Customer.objects.get(id=late["customer"]["lago_id"])
    overdue = finalized_invoice(customer, 700, currency="EUR", payment_overdue=True, payment_status="failed")
    request = api.call(
        "POST",
        "/payment_requests",
        body={"payment_request": {"external_customer_id": "cus_2", "email": "ap@late.test",
                                  "lago_invoice_ids": [str(overdue.id)]}},
    )["payment_request"]  # fmt: skip
    api.call("GET", "/payment_requests")
    api.call("GET", "/payment_requests/{lago_id}", f"/payment_requests/{request['lago_id']}")
    api.call("POST", "/invoices/{lago_id}/lose_dispute", f"{one}/lose_dispute")


def test_analytics_organization_webhooks_and_estimates(lago_api):
    api = lago_api
    _catalog(api)
    _customer_and_subscription(api)
    api.call("GET", "/analytics/gross_revenue")
    api.call("GET", "/analytics/invoice_collection")
    api.call("GET", "/analytics/invoiced_usage")
    api.call("GET", "/analytics/mrr")
    api.call("GET", "/analytics/overdue_balance")
    api.call("GET", "/analytics/usage")
    api.call("PUT", "/organizations", body={"organization": {"email": "billing@acme.test"}})
    api.call(
        "POST",
        "/billable_metrics/evaluate_expression",
        body={"expression": "round(event.properties.value * 2)",
              "event": {"code": "calls", "timestamp": 1700000000, "properties": {"value": "2.4"}}},
    )  # fmt: skip
    endpoint = api.call(
        "POST", "/webhook_endpoints", body={"webhook_endpoint": {"webhook_url": "https://hooks.test/a"}}
    )
    one = f"/webhook_endpoints/{endpoint['webhook_endpoint']['lago_id']}"
    api.call("GET", "/webhook_endpoints")
    api.call("GET", "/webhook_endpoints/{lago_id}", one)
    api.call("PUT", "/webhook_endpoints/{lago_id}", one, body={"webhook_endpoint": {"signature_algo": "hmac"}})
    api.call("DELETE", "/webhook_endpoints/{lago_id}", one)
    api.call("GET", "/webhooks/json_public_key")
    metric_id = api.call("GET", "/billable_metrics/{code}", "/billable_metrics/calls")["billable_metric"]["lago_id"]
    instant = {"billable_metric_id": metric_id, "code": "calls_now", "charge_model": "standard", "pay_in_advance": True,
               "invoiceable": True, "properties": {"amount": "0.2"}}  # fmt: skip
    api.call("POST", "/plans/{code}/charges", "/plans/basic/charges", body={"charge": instant})
    event = {"transaction_id": "est_1", "external_subscription_id": "sub_1", "code": "calls",
             "properties": {"region": "eu"}}  # fmt: skip
    api.call("POST", "/events/estimate_fees", body={"event": event})
    api.call("POST", "/events/estimate_instant_fees", body={"event": event})
    api.call("POST", "/events/batch_estimate_instant_fees", body={"events": [event, {**event, "transaction_id": "e2"}]})


def _at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_drafts_failed_invoices_advance_fees_and_credit_notes(lago_api, organization, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    api = lago_api
    customer = make_customer(organization, external_id="c1", invoice_grace_period=3)
    plan = make_plan(organization, amount_cents=1000)
    make_charge(plan, make_metric(organization, "calls"), properties={"amount": "1"})
    sub = subscribe(customer, plan, _at(2024, 1, 1))
    add_events(sub, "calls", [_at(2024, 1, 10)] * 2)
    [january] = customer_bill(customer.id, at=_at(2024, 2, 1, 1))
    api.call("PUT", "/invoices/{lago_id}/refresh", f"/invoices/{january.id}/refresh")
    api.call("PUT", "/invoices/{lago_id}/finalize", f"/invoices/{january.id}/finalize")
    [february] = customer_bill(customer.id, at=_at(2024, 3, 1, 1))
    api.call("DELETE", "/invoices/{lago_id}", f"/invoices/{february.id}")
    [march] = customer_bill(customer.id, at=_at(2024, 4, 1, 1))
    Invoice.objects.filter(pk=march.pk).update(status=InvoiceStatus.FAILED)
    api.call("POST", "/invoices/{lago_id}/retry", f"/invoices/{march.id}/retry")

    Invoice.objects.filter(pk=january.pk).update(payment_status="succeeded", total_paid_amount_cents=1200)
    fee = Fee.objects.filter(invoice=january).order_by("-amount_cents").first()
    assert fee is not None
    note = api.call(
        "POST",
        "/credit_notes",
        body={"credit_note": {"invoice_id": str(january.id), "reason": "other", "refund_amount_cents": 500,
                              "credit_amount_cents": 0, "items": [{"fee_id": str(fee.id), "amount_cents": 500}]}},
    )["credit_note"]  # fmt: skip
    one = f"/credit_notes/{note['lago_id']}"
    api.call("PUT", "/credit_notes/{lago_id}", one, body={"credit_note": {"refund_status": "succeeded"}})
    api.call("POST", "/credit_notes/{lago_id}/download", f"{one}/download")
    api.call("POST", "/credit_notes/{lago_id}/metadata", f"{one}/metadata", body={"metadata": {"ticket": "7"}})
    api.call("PATCH", "/credit_notes/{lago_id}/metadata", f"{one}/metadata", body={"metadata": {"team": "ops"}})
    api.call("DELETE", "/credit_notes/{lago_id}/metadata/{key}", f"{one}/metadata/ticket")
    api.call("DELETE", "/credit_notes/{lago_id}/metadata", f"{one}/metadata")

    advance_customer = make_customer(organization, external_id="adv")
    advance_plan = make_plan(organization, amount_cents=0)
    seats = make_metric(organization, "seats")
    make_charge(advance_plan, seats, properties={"amount": "10"}, pay_in_advance=True, invoiceable=False)
    advance_sub = subscribe(advance_customer, advance_plan, _at(2024, 5, 1))
    add_events(advance_sub, "seats", [_at(2024, 5, 2), _at(2024, 5, 3)])
    first, second = pay_in_advance_fees(
        organization, external_subscription_ids=[advance_sub.external_id], now=_at(2024, 5, 20, 12)
    )
    api.call("PUT", "/fees/{lago_id}", f"/fees/{first.id}", body={"fee": {"payment_status": "succeeded"}})
    api.call("DELETE", "/fees/{lago_id}", f"/fees/{second.id}")
    api.call("GET", "/webhooks/public_key")
