"""The invoice custom sections chosen for a subscription, a one-off invoice, a wallet, a recurring
top-up rule or a wallet top-up: Lago's `invoice_custom_section` object
(docs/billing-entities.md §4).

    {"skip_invoice_custom_sections": true | false | null, "invoice_custom_section_codes": [...]}

A row that holds a choice carries `SectionChoiceFields`; `section_choice` turns what the client
sent into the choice to store, as Lago's server does:

* not sent: the row's choice stays;
* `skip_invoice_custom_sections: true`: the row's invoices print no section (the codes are ignored);
* `false`: no longer skipped; the codes, when sent, replace the row's sections;
* null: a row that skips keeps skipping; otherwise the codes, when sent, replace its sections.

An unknown code is a 404 `invoice_custom_section_not_found`, nothing stored (Lago drops it).

An invoice does not point to the rows that chose its sections: when it is created, the choices of
the rows it bills are merged into `InvoiceSections` (`invoice_sections`), kept on the invoice,
and applied at finalization (`customers.entities.invoice_applicable_sections`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models

from billing_project.core.errors import NotFoundFailure


class SectionChoiceFields(models.Model):
    """Lago's `skip_invoice_custom_sections` and the sections selected for a row's invoices (the
    ids of the organization's sections; one deleted later is no longer printed)."""

    skip_invoice_custom_sections = models.BooleanField(default=False)
    invoice_custom_section_ids = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True

    @property
    def section_choice(self) -> SectionChoice:
        return SectionChoice(
            skip=bool(self.skip_invoice_custom_sections),
            section_ids=tuple(str(value) for value in self.invoice_custom_section_ids or ()),
        )


@dataclass(frozen=True)
class SectionChoiceInput:
    """Lago's `invoice_custom_section` object as sent (None: a member not sent or null)."""

    skip_invoice_custom_sections: bool | None = None
    invoice_custom_section_codes: tuple[str, ...] | None = None


def section_choice_input(data: Mapping[str, Any], key: str = "invoice_custom_section") -> SectionChoiceInput | None:
    """The object under `key` of validated data (None when not sent or null)."""
    value = data.get(key)
    if not isinstance(value, Mapping):
        return None
    codes = value.get("invoice_custom_section_codes")
    return SectionChoiceInput(
        skip_invoice_custom_sections=value.get("skip_invoice_custom_sections"),
        invoice_custom_section_codes=None if codes is None else tuple(str(code) for code in codes),
    )


@dataclass(frozen=True)
class SectionChoice:
    """A checked choice, as stored."""

    skip: bool = False
    section_ids: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        return {"skip_invoice_custom_sections": self.skip, "invoice_custom_section_ids": list(self.section_ids)}


NO_CHOICE = SectionChoice()


def section_choice(
    organization: Any, sent: SectionChoiceInput | None, *, current: SectionChoice = NO_CHOICE
) -> SectionChoice:
    """What to store for what the client sent (see the module); 404 on an unknown code."""
    if sent is None:
        return current
    if sent.skip_invoice_custom_sections:
        return SectionChoice(skip=True)
    skip = current.skip if sent.skip_invoice_custom_sections is None else False
    if skip or sent.invoice_custom_section_codes is None:
        return SectionChoice(skip=skip, section_ids=current.section_ids)
    return SectionChoice(section_ids=_ids_of(organization, sent.invoice_custom_section_codes))


def _ids_of(organization: Any, codes: Sequence[str]) -> tuple[str, ...]:
    from customers.models import InvoiceCustomSection

    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return ()
    found = dict(InvoiceCustomSection.live.filter(organization=organization, code__in=wanted).values_list("code", "id"))
    if len(found) != len(wanted):
        raise NotFoundFailure("invoice_custom_section")
    return tuple(str(found[code]) for code in wanted)


@dataclass(frozen=True)
class InvoiceSections:
    """Which sections an invoice prints, decided when it is created: `section_ids` (live ones) and,
    when `with_customer`, the customer's applicable sections (its own, else its entity's)."""

    section_ids: tuple[str, ...] = ()
    with_customer: bool = True

    def fields(self) -> dict[str, Any]:
        return {"invoice_custom_section_ids": list(self.section_ids), "with_customer_sections": self.with_customer}


CUSTOMER_SECTIONS = InvoiceSections()


def invoice_sections(choices: Sequence[SectionChoice]) -> InvoiceSections:
    """Lago's rule for an invoice billing rows that chose sections (subscriptions of one invoice, a
    wallet top-up): none when every row skips; the union of the rows' sections, plus the
    customer's when some row chose none; the customer's when no row chose any."""
    if not choices:
        return CUSTOMER_SECTIONS
    taking = [choice for choice in choices if not choice.skip]
    if not taking:
        return InvoiceSections(with_customer=False)
    chosen = [choice for choice in taking if choice.section_ids]
    if not chosen:
        return CUSTOMER_SECTIONS
    ids = tuple(dict.fromkeys(section_id for choice in chosen for section_id in choice.section_ids))
    return InvoiceSections(section_ids=ids, with_customer=len(chosen) < len(taking))


def one_off_sections(choice: SectionChoice | None) -> InvoiceSections:
    """Lago's one-off invoice: skipped, else the codes given (only them), else the customer's."""
    if choice is None:
        return CUSTOMER_SECTIONS
    if choice.skip:
        return InvoiceSections(with_customer=False)
    if choice.section_ids:
        return InvoiceSections(section_ids=choice.section_ids, with_customer=False)
    return CUSTOMER_SECTIONS
