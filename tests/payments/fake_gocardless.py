"""A fake GoCardless API on loopback. gocardless-pro talks to it through `GOCARDLESS_API_BASE`,
so its real request code runs (JSON envelopes, the `Idempotency-Key` it sends on every create, its
retries, and its handling of an idempotent-creation conflict: GoCardless answers a repeated key
with 409 naming the resource the first call created, and the SDK fetches that one).

Mandates decide what a payment does: `MD_OK...` pending_submission; `MD_DEAD` refused
(mandate_is_inactive). `webhook(events, secret)` builds a signed delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from tests.payments.fake_http import FakeJsonServer, new_id

WEBHOOK_SECRET = "gc_webhook_secret"


def sign(body: str, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def gc_event(resource_type: str, action: str, links: dict[str, str], *, event_id: str | None = None,
             details: dict[str, str] | None = None, resource_metadata: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "id": event_id or new_id("EV"),
        "created_at": "2026-12-07T10:00:00.000Z",
        "resource_type": resource_type,
        "action": action,
        "links": links,
        "details": details or {"origin": "gocardless", "cause": action, "description": f"{resource_type} {action}"},
        "metadata": {},
        "resource_metadata": resource_metadata or {},
    }


def webhook(events: list[dict[str, Any]]) -> str:
    return json.dumps({"events": events, "meta": {"webhook_id": new_id("WB")}})


def _error(status: int, error_type: str, reason: str, message: str, links: dict | None = None) -> tuple[int, dict]:
    error: dict[str, Any] = {"reason": reason, "message": message}
    if links:
        error["links"] = links
    return status, {"error": {"type": error_type, "code": status, "message": message, "errors": [error],
                              "documentation_url": "https://developer.gocardless.com", "request_id": new_id("RQ")}}  # fmt: skip


class FakeGoCardless(FakeJsonServer):
    def __init__(self) -> None:
        self.customers: dict[str, dict] = {}
        self.mandates: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.billing_requests: dict[str, dict] = {}
        self.created_by_key: dict[str, str] = {}
        super().__init__()

    def fault_body(self) -> dict[str, Any]:
        return {"error": {"type": "gocardless", "code": 500, "message": "fake outage", "errors": []}}

    def add_mandate(self, customer_id: str, mandate_id: str | None = None) -> str:
        mid = mandate_id or new_id("MD_OK")
        self.mandates[mid] = {"id": mid, "status": "active", "scheme": "sepa_core", "links": {"customer": customer_id}}
        return mid

    def charges(self) -> list[dict]:
        return [p for p in self.payments.values() if p["status"] not in ("failed", "cancelled")]

    def route(self, method: str, path: str, body: dict[str, Any], record: dict[str, Any]) -> tuple[int, Any]:
        if record["headers"].get("authorization") != "Bearer gc_token":
            return _error(401, "invalid_api_usage", "unauthorized", "Access token not active")
        key = record["idempotency_key"]
        if method == "POST" and key and key in self.created_by_key:
            record["replayed"] = True
            return _error(409, "invalid_state", "idempotent_creation_conflict", "A resource has already been created with this idempotency key",
                          {"conflicting_resource_id": self.created_by_key[key]})  # fmt: skip
        status, answer, created = self._route(method, path, body)
        if method == "POST" and key and created:
            self.created_by_key[key] = created
        return status, answer

    def _route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any, str | None]:
        if method == "POST" and path == "/customers":
            cid = new_id("CU")
            self.customers[cid] = {"id": cid, **body["customers"]}
            return 201, {"customers": self.customers[cid]}, cid
        if method == "POST" and path == "/billing_requests":
            brq = new_id("BRQ")
            self.billing_requests[brq] = {"id": brq, "status": "pending", **body["billing_requests"]}
            return 201, {"billing_requests": self.billing_requests[brq]}, brq
        if method == "POST" and path == "/billing_request_flows":
            brf = new_id("BRF")
            flow = {"id": brf, "authorisation_url": f"https://pay-sandbox.gocardless.com/billing/static/flow?id={brf}",
                    **body["billing_request_flows"]}  # fmt: skip
            return 201, {"billing_request_flows": flow}, brf
        m = re.fullmatch(r"/mandates/([^/]+)(/actions/cancel)?", path)
        if m:
            mandate = self.mandates.get(m.group(1))
            if mandate is None:
                return (*_error(404, "invalid_api_usage", "resource_not_found", "Resource not found"), None)
            if m.group(2):
                mandate["status"] = "cancelled"
            return 200, {"mandates": mandate}, None
        if method == "POST" and path == "/payments":
            params = body["payments"]
            mandate = self.mandates.get(params["links"]["mandate"])
            if mandate is None or mandate["status"] != "active":
                return (
                    *_error(422, "invalid_state", "mandate_is_inactive", "The mandate is cancelled or failed"),
                    None,
                )
            pid = new_id("PM")
            payment = {"id": pid, "status": "pending_submission", "amount_refunded": 0, **params}
            self.payments[pid] = payment
            return 201, {"payments": payment}, pid
        m = re.fullmatch(r"/payments/([^/]+)(/actions/cancel)?", path)
        if m:
            found = self.payments.get(m.group(1))
            if found is None:
                return (*_error(404, "invalid_api_usage", "resource_not_found", "Resource not found"), None)
            if m.group(2):
                found["status"] = "cancelled"
            return 200, {"payments": found}, None
        if method == "POST" and path == "/refunds":
            params = body["refunds"]
            paid = self.payments.get(params["links"]["payment"])
            if paid is None:
                return (*_error(404, "invalid_api_usage", "resource_not_found", "Resource not found"), None)
            total = paid["amount_refunded"] + params["amount"]
            if params.get("total_amount_confirmation") != total:
                return (
                    *_error(
                        422, "invalid_state", "total_amount_confirmation_invalid", "total_amount_confirmation is wrong"
                    ),
                    None,
                )
            paid["amount_refunded"] = total
            rid = new_id("RF")
            self.refunds[rid] = {"id": rid, "status": "created", **params}
            return 201, {"refunds": self.refunds[rid]}, rid
        return (*_error(404, "invalid_api_usage", "resource_not_found", f"no route {method} {path}"), None)
