"""What bxb speaks of UCP: the protocol version, the capabilities it implements, and the shapes
of UCP's error answers. One place, read by the profile, the views and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VERSION = "2026-04-08"
SPEC_BASE = f"https://ucp.dev/{VERSION}"

SHOPPING_SERVICE = "dev.ucp.shopping"
CHECKOUT = "dev.ucp.shopping.checkout"
ORDER = "dev.ucp.shopping.order"
CATALOG_SEARCH = "dev.ucp.shopping.catalog.search"
CATALOG_LOOKUP = "dev.ucp.shopping.catalog.lookup"


@dataclass(frozen=True)
class Capability:
    name: str
    spec: str
    schema: str
    extends: str | None = None

    def declaration(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"version": VERSION, "spec": self.spec, "schema": self.schema}
        if self.extends:
            entry["extends"] = self.extends
        return entry


# The capabilities bxb implements, in the order they are declared (docs/ucp.md, "What bxb declares").
CAPABILITIES: tuple[Capability, ...] = (
    Capability(CHECKOUT, f"{SPEC_BASE}/specification/checkout", f"{SPEC_BASE}/schemas/shopping/checkout.json"),
    Capability(ORDER, f"{SPEC_BASE}/specification/order", f"{SPEC_BASE}/schemas/shopping/order.json"),
    Capability(
        CATALOG_SEARCH, f"{SPEC_BASE}/specification/catalog/search", f"{SPEC_BASE}/schemas/shopping/catalog_search.json"
    ),
    Capability(
        CATALOG_LOOKUP, f"{SPEC_BASE}/specification/catalog/lookup", f"{SPEC_BASE}/schemas/shopping/catalog_lookup.json"
    ),
)
CAPABILITY_NAMES = frozenset(c.name for c in CAPABILITIES)

# Which root capability an operation belongs to: a response names only the negotiated capabilities
# relevant to it (overview, "Response Capability Selection").
OPERATION_ROOT = {
    "checkout": CHECKOUT,
    "order": ORDER,
    "catalog_search": CATALOG_SEARCH,
    "catalog_lookup": CATALOG_LOOKUP,
}


def rest_service(endpoint: str) -> dict[str, Any]:
    return {
        "version": VERSION,
        "spec": f"{SPEC_BASE}/specification/overview",
        "transport": "rest",
        "endpoint": endpoint,
        "schema": f"{SPEC_BASE}/services/shopping/rest.openapi.json",
    }


class UcpError(Exception):
    """A refusal answered in UCP's transport-error shape: HTTP `status`, `{"code", "content"}`."""

    def __init__(self, status: int, code: str, content: str, *, headers: dict[str, str] | None = None):
        super().__init__(content)
        self.status = status
        self.code = code
        self.content = content
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "content": self.content}
        if self.status == 400:
            # A request the business cannot read: also in the envelope of UCP's error response,
            # so a platform reading `messages` finds it there too.
            body["ucp"] = {"version": VERSION, "status": "error"}
            body["messages"] = [message_error(self.code, self.content, severity="unrecoverable")]
        return body


def message_error(code: str, content: str, *, severity: str = "recoverable", path: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "error", "code": code, "content": content, "severity": severity}
    if path:
        message["path"] = path
    return message


def message_warning(code: str, content: str, *, path: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "warning", "code": code, "content": content}
    if path:
        message["path"] = path
    return message


def message_info(content: str, *, code: str | None = None, path: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "info", "content": content}
    if code:
        message["code"] = code
    if path:
        message["path"] = path
    return message


class BusinessError(Exception):
    """A business outcome with no resource to show (HTTP 200, `ucp.status: "error"`, messages)."""

    def __init__(self, messages: list[dict[str, Any]], *, status: int = 200, continue_url: str = ""):
        super().__init__(messages[0].get("content", "") if messages else "")
        self.messages = messages
        self.status = status
        self.continue_url = continue_url

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ucp": {"version": VERSION, "status": "error", "capabilities": {}},
            "messages": self.messages,
        }
        if self.continue_url:
            body["continue_url"] = self.continue_url
        return body
