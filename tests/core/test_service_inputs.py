"""Services take typed inputs, not the request's `dict` (docs/architecture.md, "How services take
input, and who acts"): the public functions of every `services` module are scanned for a parameter
that carries a request body, or a part of one, as a raw `dict`, a list of them or `Any`. Those
still doing so are listed here with the reason; the list only shrinks."""

from __future__ import annotations

import ast
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[2]

# The parameter names a request body (or a part of one) travels under.
BODY_NAMES = {"data", "payload", "payloads", "body", "items", "fees", "rules", "thresholds", "metadata", "properties"}
RAW = re.compile(r"^(Any|dict\b.*|list\[dict.*|list\[Any\]|Sequence\[Any\]|Mapping\[str, Any\])( \| None)?$")

# Request bodies still taken raw (the figure in docs/architecture.md); credits have none.
STILL_RAW = {
    # invoicing (one-off invoices, invoice metadata): to convert as credits were.
    "invoicing/services/lifecycle.py: invoice_update(metadata)",
    "invoicing/services/one_off.py: invoice_create_one_off(fees)",
    # payments: a dunning campaign's thresholds.
    "payments/services/dunning.py: dunning_campaign_create(thresholds)",
    # Event ingestion parses raw events itself, on its measured fast path (metering/ingestion.py).
    "metering/services.py: events_ingest(payloads)",
    # UCP bodies follow the UCP schema and are read by `parse_request` / `selected_instrument`.
    "ucp/services/checkouts.py: checkout_create(body)",
    "ucp/services/checkouts.py: checkout_update(body)",
    "ucp/services/checkouts.py: checkout_complete(body)",
}

# Not a request body taken raw, though the scan cannot tell.
NOT_BODIES = {
    # A charge model's `properties` are a JSON object whose keys depend on the model: the pricing
    # engine's own checks read it (docs/billing-semantics.md §2).
    "catalog/services/fixed_charges.py: fixed_charge_properties_errors(properties)",
    "catalog/services/plans.py: normalize_properties(properties)",
    "catalog/services/plans.py: properties_errors(properties)",
    "ucp/services/checkouts.py: parse_request(body)",  # the UCP body's reader itself
    "invoicing/services/progressive.py: progressive_credits(fees)",  # computed fees, not input
    "usage_monitoring/services/evaluation.py: crossed_points(thresholds)",  # stored alert thresholds
    "webhooks/services.py: webhook_body(payload)",  # an outbound webhook's document
}


def _raw_body_parameters() -> set[str]:
    found = set()
    for path in sorted(REPO.rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith((".venv/", "tests/")) or not (
            relative.endswith("/services.py") or "/services/" in relative
        ):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            for arg in node.args.args + node.args.kwonlyargs:
                if arg.arg in BODY_NAMES and arg.annotation is not None and RAW.match(ast.unparse(arg.annotation)):
                    found.add(f"{relative}: {node.name}({arg.arg})")
    return found


def test_services_take_typed_inputs():
    found = _raw_body_parameters() - NOT_BODIES
    assert len(STILL_RAW) == 7
    assert found - STILL_RAW == set(), "a service takes a raw body: give it a typed input"
    assert STILL_RAW - found == set(), "converted: remove it from STILL_RAW (and the figure in docs/architecture.md)"
