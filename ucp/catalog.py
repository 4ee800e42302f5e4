"""The organization's UCP catalog: the plans and add-ons it lists (UcpListing) as products with
one variant each, priced in minor units, with a plan's recurring terms stated in words and in
`metadata.billing` (docs/ucp.md, "Catalog").

Identifiers: a plan listed under code `pro` is product `plan:pro` and variant `plan:pro:v`; an
add-on `setup` is `addon:setup` / `addon:setup:v`. Checkout line items name either.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing_project.core.money import format_amount
from ucp.models import UcpListing, UcpSettings

_PER = {"weekly": "week", "monthly": "month", "quarterly": "quarter", "semiannual": "half-year", "yearly": "year"}


@dataclass(frozen=True)
class Entry:
    listing: UcpListing
    kind: str  # "plan" | "addon"
    code: str

    @property
    def product_id(self) -> str:
        return f"{self.kind}:{self.code}"

    @property
    def variant_id(self) -> str:
        return f"{self.kind}:{self.code}:v"

    @property
    def title(self) -> str:
        source = self.listing.plan or self.listing.add_on
        return self.listing.title or (source.name if source else self.code)

    @property
    def currency(self) -> str:
        source = self.listing.plan or self.listing.add_on
        assert source is not None
        return source.amount_currency

    @property
    def unit_amount(self) -> int:
        source = self.listing.plan or self.listing.add_on
        assert source is not None
        return int(source.amount_cents)


def entries(settings: UcpSettings) -> list[Entry]:
    rows = (
        UcpListing.objects.filter(organization_id=settings.organization_id, enabled=True)
        .select_related("plan", "add_on")
        .order_by("created_at", "id")
    )
    out: list[Entry] = []
    for row in rows:
        if row.plan is not None and row.plan.deleted_at is None and row.plan.parent_id is None:
            out.append(Entry(row, "plan", row.plan.code))
        elif row.add_on is not None and row.add_on.deleted_at is None:
            out.append(Entry(row, "addon", row.add_on.code))
    return out


def resolve(settings: UcpSettings, identifier: str) -> tuple[Entry, str] | None:
    """The listed entry a product or variant id names, and how ("exact" for a variant id,
    "featured" for a product id); None when nothing listed matches."""
    for entry in entries(settings):
        if identifier == entry.variant_id:
            return entry, "exact"
        if identifier == entry.product_id:
            return entry, "featured"
    return None


def recurring_terms(entry: Entry) -> dict[str, Any] | None:
    plan = entry.listing.plan
    if plan is None:
        return None
    charges = [
        {
            "metric": charge.billable_metric.name,
            "charge_model": charge.charge_model,
            "billed": "in advance" if charge.pay_in_advance else "at the end of each period",
        }
        for charge in plan.charges.filter(deleted_at__isnull=True)
        .select_related("billable_metric")
        .order_by("created_at")
    ]
    trial_days = int(Decimal(plan.trial_period))
    return {
        "interval": plan.interval,
        "base_price": {"amount": int(plan.amount_cents), "currency": plan.amount_currency},
        "base_price_billed": "in_advance" if plan.pay_in_advance else "in_arrears",
        "trial_days": trial_days,
        "usage_charges": charges,
    }


def terms_text(entry: Entry) -> str:
    """What a buyer commits to, in one paragraph."""
    terms = recurring_terms(entry)
    if terms is None:
        return f"One-off purchase: {format_amount(entry.unit_amount, entry.currency)} per unit."
    per = _PER.get(terms["interval"], terms["interval"])
    price = format_amount(terms["base_price"]["amount"], terms["base_price"]["currency"])
    if terms["base_price_billed"] == "in_advance":
        text = f"Subscription: {price} per {per}, billed at the start of each {per} (the first {per} is paid now)."
    else:
        text = f"Subscription: {price} per {per}, billed at the end of each {per}; nothing is due now."
    if terms["trial_days"]:
        text += f" Free trial of {terms['trial_days']} days: the first charge comes when it ends."
    if terms["usage_charges"]:
        names = ", ".join(sorted({c["metric"] for c in terms["usage_charges"]}))
        text += f" Usage is billed on top, per the plan's charges ({names}), at the end of each period."
    text += " Renews each period until canceled."
    return text


def product(entry: Entry, *, inputs: list[dict[str, str]] | None = None) -> dict[str, Any]:
    source = entry.listing.plan or entry.listing.add_on
    assert source is not None
    description = entry.listing.description or source.description or ""
    plain = (description + "\n\n" if description else "") + terms_text(entry)
    price = {"amount": entry.unit_amount, "currency": entry.currency}
    variant: dict[str, Any] = {
        "id": entry.variant_id,
        "sku": entry.code,
        "title": entry.title,
        "description": {"plain": plain},
        "price": price,
        "availability": {"available": True, "status": "in_stock"},
    }
    if inputs is not None:
        variant["inputs"] = inputs
    metadata: dict[str, Any] = {"kind": "subscription" if entry.kind == "plan" else "one_off"}
    terms = recurring_terms(entry)
    if terms is not None:
        metadata["billing"] = terms
    return {
        "id": entry.product_id,
        "handle": f"{entry.kind}-{entry.code}",
        "title": entry.title,
        "description": {"plain": plain},
        "price_range": {"min": price, "max": price},
        "variants": [variant],
        "categories": [{"value": "subscription" if entry.kind == "plan" else "add_on", "taxonomy": "merchant"}],
        "metadata": metadata,
    }


def search(
    settings: UcpSettings, *, query: str, categories: list[str], price_min: int | None, price_max: int | None
) -> list[Entry]:
    words = [w for w in query.lower().split() if w != "*"]
    found = []
    for entry in entries(settings):
        source = entry.listing.plan or entry.listing.add_on
        assert source is not None
        haystack = " ".join([entry.title, entry.code, entry.listing.description, source.description or ""]).lower()
        if words and not all(word in haystack for word in words):
            continue
        category = "subscription" if entry.kind == "plan" else "add_on"
        if categories and category not in categories:
            continue
        if price_min is not None and entry.unit_amount < price_min:
            continue
        if price_max is not None and entry.unit_amount > price_max:
            continue
        found.append(entry)
    return found
