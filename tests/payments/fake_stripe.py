"""A fake Stripe API on loopback, owned by the test suite.

The stripe SDK talks to it through `base_addresses` (settings.STRIPE_API_BASE), so its real
request code runs: form encoding, headers, the Idempotency-Key, its retries on timeouts and 5xx,
and its error classes. The fake honours Idempotency-Key like Stripe: a request with a key seen
before gets the first answer again and creates nothing.

Payment methods decide what a charge does:
  pm_card_visa           succeeded
  pm_card_chargeDeclined 402 card_error (card_declined / generic_decline), PaymentIntent attached
  pm_card_threeDSecure   requires_action (3DS), with a redirect URL
  pm_sepa_debit          processing
Faults for the next requests: `fake.fail_next(n, kind="500"|"timeout")`; a timeout processes
the request (and caches it under its key) but answers after the client has given up.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}"


def _set_path(target: dict, parts: list[str], value: str) -> None:
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        value = {k: _listify(v) for k, v in value.items()}
        if value and all(k.isdigit() for k in value):
            return [value[k] for k in sorted(value, key=int)]
    return value


def parse_form(body: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = [key.split("[", 1)[0], *re.findall(r"\[([^\]]*)\]", key)]
        _set_path(result, parts, value)
    return _listify(result)


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header, Stripe's scheme: v1 = HMAC-SHA256(secret, "t.payload")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> str:
    return json.dumps(
        {
            "id": event_id or _id("evt"),
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "api_version": "2024-06-20",
            "data": {"object": obj},
        }
    )


class FakeStripe:
    def __init__(self) -> None:
        self.customers: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.setup_intents: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.idempotency: dict[str, tuple[int, dict]] = {}
        self.requests: list[dict[str, Any]] = []
        self.faults: list[str] = []
        self.timeout_seconds = 1.5
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, count: int = 1, kind: str = "500") -> None:
        self.faults.extend([kind] * count)

    # ------------------------------------------------------------------ helpers for tests

    def add_customer(self, default_payment_method: str | None = None) -> str:
        cid = _id("cus")
        self.customers[cid] = {
            "id": cid,
            "object": "customer",
            "invoice_settings": {"default_payment_method": default_payment_method},
        }
        return cid

    def add_setup_intent(self, customer: str, payment_method: str, method_type: str = "card") -> str:
        sid = _id("seti")
        self.setup_intents[sid] = {
            "id": sid,
            "object": "setup_intent",
            "customer": customer,
            "status": "succeeded",
            "payment_method": payment_method,
            "payment_method_types": [method_type],
        }
        return sid

    def charges(self) -> list[dict]:
        """PaymentIntents that moved money (or would: processing/succeeded)."""
        return [pi for pi in self.payment_intents.values() if pi["status"] in ("succeeded", "processing")]

    def posts(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST" and r["path"] == path]

    # ------------------------------------------------------------------ HTTP

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode() if length else ""
        parsed = urlparse(handler.path)
        path = parsed.path
        params = parse_form(raw if method == "POST" else parsed.query)
        key = handler.headers.get("Idempotency-Key")
        record = {
            "method": method,
            "path": path,
            "params": params,
            "idempotency_key": key,
            "api_key": (handler.headers.get("Authorization") or "").removeprefix("Bearer "),
            "stripe_version": handler.headers.get("Stripe-Version"),
        }
        with self.lock:
            self.requests.append(record)
            fault = self.faults.pop(0) if self.faults else None
        if fault == "500":
            return self._send(handler, 500, {"error": {"type": "api_error", "message": "fake outage"}})
        with self.lock:
            if method == "POST" and key and key in self.idempotency:
                status, body = self.idempotency[key]
                replay = True
            else:
                status, body = self._route(method, path, params)
                replay = False
                if method == "POST" and key and status < 500:
                    self.idempotency[key] = (status, body)
        record["replayed"] = replay
        if fault == "timeout":
            time.sleep(self.timeout_seconds)
        self._send(handler, status, body)

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("Request-Id", _id("req"))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        if method == "POST" and path == "/v1/customers":
            cid = _id("cus")
            self.customers[cid] = {
                "id": cid,
                "object": "customer",
                "name": params.get("name"),
                "email": params.get("email"),
                "metadata": params.get("metadata", {}),
                "invoice_settings": {"default_payment_method": None},
            }
            return 200, self.customers[cid]
        if m := re.fullmatch(r"/v1/customers/([^/]+)", path):
            found = self.customers.get(m.group(1))
            return (200, found) if found else self._missing("customer", m.group(1))
        if method == "POST" and path == "/v1/payment_intents":
            return self._create_intent(params)
        if m := re.fullmatch(r"/v1/payment_intents/([^/]+)/cancel", path):
            intent = self.payment_intents.get(m.group(1))
            if not intent:
                return self._missing("payment_intent", m.group(1))
            if intent["status"] == "succeeded":
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "payment_intent_unexpected_state",
                        "message": "already succeeded",
                    }
                }
            intent["status"] = "canceled"
            return 200, intent
        if m := re.fullmatch(r"/v1/payment_intents/([^/]+)", path):
            found = self.payment_intents.get(m.group(1))
            return (200, found) if found else self._missing("payment_intent", m.group(1))
        if m := re.fullmatch(r"/v1/setup_intents/([^/]+)", path):
            found = self.setup_intents.get(m.group(1))
            return (200, found) if found else self._missing("setup_intent", m.group(1))
        if method == "POST" and path == "/v1/checkout/sessions":
            sid = _id("cs_test")
            session = {
                "id": sid,
                "object": "checkout.session",
                "mode": params.get("mode"),
                "customer": params.get("customer"),
                "url": f"https://checkout.stripe.test/c/pay/{sid}",
                "metadata": params.get("metadata", {}),
                "params": params,
            }
            self.sessions[sid] = session
            return 200, session
        if method == "POST" and path == "/v1/refunds":
            intent = self.payment_intents.get(params.get("payment_intent", ""))
            if not intent or intent["status"] != "succeeded":
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "charge_not_refundable",
                        "message": "not refundable",
                    }
                }
            amount = int(params.get("amount") or intent["amount"])
            if amount + intent.get("amount_refunded", 0) > intent["amount"]:
                return 400, {
                    "error": {"type": "invalid_request_error", "code": "amount_too_large", "message": "too large"}
                }
            intent["amount_refunded"] = intent.get("amount_refunded", 0) + amount
            rid = _id("re")
            refund = {
                "id": rid,
                "object": "refund",
                "amount": amount,
                "payment_intent": intent["id"],
                "status": "succeeded",
                "metadata": params.get("metadata", {}),
                "currency": intent["currency"],
            }
            self.refunds[rid] = refund
            return 200, refund
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({path})"}}

    def _missing(self, kind: str, ident: str) -> tuple[int, dict]:
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such {kind}: '{ident}'",
                "param": "id",
            }
        }

    def _create_intent(self, params: dict) -> tuple[int, dict]:
        pid = _id("pi")
        method = params.get("payment_method")
        intent = {
            "id": pid,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "customer": params.get("customer"),
            "payment_method": method,
            "metadata": params.get("metadata", {}),
            "description": params.get("description"),
            "off_session": params.get("off_session"),
            "status": "succeeded",
            "last_payment_error": None,
            "next_action": None,
        }
        self.payment_intents[pid] = intent
        if method == "pm_card_chargeDeclined":
            intent["status"] = "requires_payment_method"
            error = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
                "charge": _id("ch"),
            }
            intent["last_payment_error"] = dict(error)
            error["payment_intent"] = dict(intent)
            return 402, {"error": error}
        if method == "pm_card_threeDSecure":
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {"url": f"https://hooks.stripe.test/3ds/{pid}"},
            }
        elif method == "pm_sepa_debit":
            intent["status"] = "processing"
        return 200, intent
