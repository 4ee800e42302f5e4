"""A fake Adyen Checkout API on loopback. The Adyen SDK talks to it through `ADYEN_API_BASE`, so its
real request code runs (JSON body, `x-api-key`, `Idempotency-Key`, its error classes). Like Adyen,
a request repeating an `Idempotency-Key` gets the first answer again and creates nothing.

Stored payment methods decide what a charge does:
  card_ok       Authorised
  card_refused  Refused (refusalReason "Not enough balance", code 12)
  card_3ds      RedirectShopper, with an action URL
  card_pending  Pending
An API key "bad" gets 401. `notification(items, key)` builds a signed notification body
(Adyen's HMAC scheme, written here independently of the SDK that verifies it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any

from tests.payments.fake_http import FakeJsonServer, new_id

HMAC_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"

_RESULTS: dict[str, dict[str, Any]] = {
    "card_ok": {"resultCode": "Authorised"},
    "card_refused": {"resultCode": "Refused", "refusalReason": "Not enough balance", "refusalReasonCode": "12"},
    "card_3ds": {"resultCode": "RedirectShopper", "action": {"type": "redirect", "url": "https://3ds.example/x"}},
    "card_pending": {"resultCode": "Pending"},
}


def sign_item(item: dict[str, Any], key: str) -> str:
    amount = item.get("amount") or {}
    fields = [
        item.get("pspReference", ""),
        item.get("originalReference", ""),
        item.get("merchantAccountCode", ""),
        item.get("merchantReference", ""),
        amount.get("value", ""),
        amount.get("currency", ""),
        item.get("eventCode", ""),
        item.get("success", ""),
    ]
    message = ":".join(str(f) for f in fields).encode()
    return base64.b64encode(hmac.new(binascii.a2b_hex(key), message, hashlib.sha256).digest()).decode()


def item(event_code: str, *, psp: str, reference: str, value: int, currency: str = "EUR", success: bool = True,
         original: str = "", additional: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "eventCode": event_code,
        "success": "true" if success else "false",
        "pspReference": psp,
        "originalReference": original,
        "merchantAccountCode": "BxbTestMerchant",
        "merchantReference": reference,
        "amount": {"value": value, "currency": currency},
        "eventDate": "2026-12-07T10:00:00+01:00",
        "additionalData": dict(additional or {}),
        **extra,
    }


def notification(items: list[dict[str, Any]], key: str = HMAC_KEY, tamper: bool = False) -> str:
    signed = []
    for entry in items:
        entry = json.loads(json.dumps(entry))
        entry.setdefault("additionalData", {})["hmacSignature"] = sign_item(entry, key)
        if tamper:
            entry["amount"]["value"] += 1
        signed.append({"NotificationRequestItem": entry})
    return json.dumps({"live": "false", "notificationItems": signed})


class FakeAdyen(FakeJsonServer):
    def __init__(self) -> None:
        self.payments: dict[str, dict] = {}
        self.links: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.deleted_methods: list[str] = []
        self.idempotency: dict[str, tuple[int, Any]] = {}
        super().__init__()

    def fault_body(self) -> dict[str, Any]:
        return {"status": 500, "errorCode": "905", "message": "fake outage", "errorType": "internal"}

    def charges(self) -> list[dict]:
        return [p for p in self.payments.values() if p["resultCode"] in ("Authorised", "Pending")]

    def route(self, method: str, path: str, body: dict[str, Any], record: dict[str, Any]) -> tuple[int, Any]:
        if record["headers"].get("x-api-key") == "bad":
            return 401, {"status": 401, "errorCode": "000", "message": "HTTP Status Response - Unauthorized",
                         "errorType": "security"}  # fmt: skip
        key = record["idempotency_key"]
        if method == "POST" and key and key in self.idempotency:
            record["replayed"] = True
            return self.idempotency[key]
        answer = self._route(method, path, body, record)
        if method == "POST" and key and answer[0] < 500:
            self.idempotency[key] = answer
        return answer

    def _route(self, method: str, path: str, body: dict[str, Any], record: dict[str, Any]) -> tuple[int, Any]:
        path = re.sub(r"^/v\d+", "", path)
        if method == "POST" and path == "/payments":
            stored = (body.get("paymentMethod") or {}).get("storedPaymentMethodId") or ""
            if stored not in _RESULTS:
                return 422, {"status": 422, "errorCode": "14_012", "message": "The provided stored method is unknown",
                             "errorType": "validation"}  # fmt: skip
            psp = new_id("PSP")
            payment = {"pspReference": psp, "merchantReference": body.get("reference"), "amount": body["amount"],
                       **_RESULTS[stored]}  # fmt: skip
            self.payments[psp] = {**payment, "request": body}
            return 200, payment
        if method == "POST" and path == "/paymentLinks":
            link_id = new_id("PL")
            link = {"id": link_id, "url": f"https://test.adyen.link/{link_id}", "status": "active", **body}
            self.links[link_id] = link
            return 201, link
        m = re.fullmatch(r"/payments/([^/]+)/(refunds|cancels)", path)
        if method == "POST" and m:
            psp, action = m.groups()
            if psp not in self.payments:
                return 422, {"status": 422, "errorCode": "167", "message": "Original pspReference required",
                             "errorType": "validation"}  # fmt: skip
            ref = new_id("PSPR")
            answer = {"pspReference": ref, "paymentPspReference": psp, "status": "received", **body}
            if action == "refunds":
                self.refunds[ref] = answer
            return 201, answer
        m = re.fullmatch(r"/storedPaymentMethods/([^/]+)", path)
        if method == "DELETE" and m:
            self.deleted_methods.append(m.group(1))
            return 204, None
        return 404, {
            "status": 404,
            "errorCode": "000",
            "message": f"no route {method} {path}",
            "errorType": "validation",
        }
