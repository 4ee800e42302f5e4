"""Which taxes a fee takes (docs/billing-semantics.md §6.2), resolved once per owner for an invoice.

Same precedence as `catalog.selectors.fee_taxes` (explicit codes → add-on → charge → commitment →
plan → customer → organization defaults), with the lists cached so an invoice of many fees costs a
handful of queries, not a few per fee.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.models import Tax
from customers.models import Organization
from invoicing.calculation import TaxRate
from invoicing.models import Fee


class TaxResolver:
    def __init__(
        self,
        organization: Organization,
        customer: Any,
        *,
        organization_taxes: list[Tax] | None = None,
        customer_taxes: list[Tax] | None = None,
        owner_taxes: Mapping[tuple[str, Any], list[Tax]] | None = None,
    ):
        """`customer_taxes`: the customer's own taxes when already read (a billing batch reads them
        for all its customers at once), in the order `fallback` reads them. `owner_taxes`: the taxes
        of plans and charges already read (the billing run's catalog snapshot, current usage), by
        (model name, id), sorted by code."""
        self.organization = organization
        self.customer = customer
        self._organization_taxes = organization_taxes
        self._known_taxes = owner_taxes or {}
        self._owner_taxes: dict[tuple[str, Any], list[Tax]] = {}
        self._fallback: list[Tax] | None = None
        if customer_taxes:
            self._fallback = list(customer_taxes)
        elif customer_taxes is not None and organization_taxes is not None:
            self._fallback = list(organization_taxes)
        self._by_code: dict[str, Tax] = {}

    def _taxes_of(self, owner: Any) -> list[Tax]:
        key = (type(owner).__name__, owner.pk)
        known = self._known_taxes.get(key)
        if known is not None:
            return known
        if key not in self._owner_taxes:
            prefetched = getattr(owner, "_prefetched_objects_cache", {}).get("taxes")
            if prefetched is not None:
                self._owner_taxes[key] = sorted(prefetched, key=lambda t: t.code)
            else:
                self._owner_taxes[key] = list(owner.taxes.all().order_by("code"))
        return self._owner_taxes[key]

    def fallback(self) -> list[Tax]:
        if self._fallback is None:
            taxes = list(
                Tax.objects.filter(customer_links__customer=self.customer).order_by(
                    "customer_links__created_at", "code"
                )
            )
            if not taxes:
                if self._organization_taxes is None:
                    self._organization_taxes = list(
                        Tax.objects.filter(organization=self.organization, applied_to_organization=True).order_by(
                            "code"
                        )
                    )
                taxes = self._organization_taxes
            self._fallback = taxes
        return self._fallback

    def for_codes(self, codes: list[str]) -> list[Tax]:
        return list(Tax.objects.filter(organization=self.organization, code__in=codes).order_by("code"))

    def taxes_for(
        self,
        *,
        plan: Any = None,
        charge: Any = None,
        add_on: Any = None,
        commitment: Any = None,
        fixed_charge: Any = None,
        tax_codes: list[str] | None = None,
    ) -> list[Tax]:
        if tax_codes:
            found = self.for_codes(tax_codes)
            if found:
                return found
        for owner in (add_on, charge, fixed_charge, commitment, plan):
            if owner is not None:
                taxes = self._taxes_of(owner)
                if taxes:
                    return taxes
        return self.fallback()

    def fee_taxes(self, fee: Fee, *, plan: Any = None, tax_codes: list[str] | None = None) -> list[Tax]:
        if fee.fee_type == "credit":
            return []
        taxes = self.taxes_for(
            plan=plan,
            charge=fee.charge if fee.charge_id else None,
            add_on=fee.add_on if fee.add_on_id else None,
            commitment=fee.commitment if fee.commitment_id else None,
            fixed_charge=fee.fixed_charge if fee.fixed_charge_id else None,
            tax_codes=tax_codes,
        )
        for tax in taxes:
            self._by_code[tax.code] = tax
        return taxes

    def tax(self, code: str) -> Tax | None:
        return self._by_code.get(code)


def tax_rates(taxes: list[Tax]) -> tuple[TaxRate, ...]:
    return tuple(TaxRate(code=t.code, rate=t.rate, name=t.name, description=t.description or "") for t in taxes)
