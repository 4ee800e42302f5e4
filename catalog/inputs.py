"""Typed inputs of the catalog services (billing_project/core/inputs.py: `UNSET` is "not sent").

The API builds them from its input serializers' validated data, the admin from its forms; the
services read typed attributes. Creation and partial update take the same input: on update, a
field not sent stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing_project.core.inputs import UNSET, Unset, from_validated


@dataclass(frozen=True)
class TaxFields:
    """`POST /taxes`, `PUT /taxes/{code}`. `rate` as the client sent it (a number or a numeric
    string, read exactly by the JSON parser); the service checks its range and digits."""

    name: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    rate: Decimal | int | str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    applied_to_organization: bool | Unset | None = UNSET

    @classmethod
    def from_validated(cls, data: Mapping[str, Any]) -> TaxFields:
        return from_validated(cls, data)


@dataclass(frozen=True)
class AddOnFields:
    """`POST /add_ons`, `PUT /add_ons/{code}`."""

    name: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    invoice_display_name: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    amount_cents: int | Unset | None = UNSET
    amount_currency: str | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET

    @classmethod
    def from_validated(cls, data: Mapping[str, Any]) -> AddOnFields:
        return from_validated(cls, data)


@dataclass(frozen=True)
class FixedChargeFields:
    """One fixed charge: an item of a plan's `fixed_charges`, `POST/PUT /plans/{code}/fixed_charges`,
    or (with `id` naming the plan's fixed charge) an item of a subscription's
    `plan_overrides.fixed_charges`. `units` and `properties` amounts as the client sent them (the
    JSON parser keeps numbers exact); the service checks them."""

    id: str | Unset | None = UNSET
    add_on_id: str | Unset | None = UNSET
    add_on_code: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    charge_model: str | Unset | None = UNSET
    invoice_display_name: str | Unset | None = UNSET
    units: Decimal | int | str | Unset | None = UNSET
    pay_in_advance: bool | Unset | None = UNSET
    prorated: bool | Unset | None = UNSET
    properties: Mapping[str, Any] | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET
    apply_units_immediately: bool | Unset | None = UNSET

    @classmethod
    def from_validated(cls, data: Mapping[str, Any]) -> FixedChargeFields:
        return from_validated(cls, data)


@dataclass(frozen=True)
class ChargeFilterFields:
    """One charge filter: `POST`/`PUT .../charges/{code}/filters[/{id}]` of a subscription, and each
    item of a charge override's `filters`. `properties` as the JSON parser read them (decimals
    exact); the service checks them against the charge model and `values` against the metric."""

    values: dict[str, list[str]] | Unset | None = UNSET
    properties: dict[str, Any] | Unset | None = UNSET
    invoice_display_name: str | Unset | None = UNSET

    @classmethod
    def from_validated(cls, data: Mapping[str, Any]) -> ChargeFilterFields:
        return from_validated(cls, data)


@dataclass(frozen=True)
class ChargeOverrideFields:
    """`PUT /subscriptions/{external_id}/charges/{code}`: what a subscription may change of one
    charge of its plan (Lago's overridable fields). `filters`, when sent, replace the charge's
    filters (a filter with the same values keeps its id); `tax_codes` replace its taxes."""

    invoice_display_name: str | Unset | None = UNSET
    min_amount_cents: int | Unset | None = UNSET
    properties: dict[str, Any] | Unset | None = UNSET
    filters: list[ChargeFilterFields] | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET

    @classmethod
    def from_validated(cls, data: Mapping[str, Any]) -> ChargeOverrideFields:
        filters = data.get("filters", UNSET)
        return from_validated(
            cls,
            data,
            filters=[ChargeFilterFields.from_validated(item) for item in filters] if filters else filters,
        )
