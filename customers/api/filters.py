"""Query parameters of the customers list (billing_project/core/api/filters.py)."""

from __future__ import annotations

from billing_project.core.api.filters import BooleanFilter, LagoFilterSet, ListFilter, TextFilter


class CustomerFilters(LagoFilterSet):
    external_id = TextFilter()
    search_term = TextFilter(help_text="part of the name, firstname, lastname, legal name, email or external id")
    currencies = ListFilter()
    countries = ListFilter()
    states = ListFilter()
    zipcodes = ListFilter()
    customer_type = TextFilter(choices=("company", "individual"))
    has_customer_type = BooleanFilter()
    has_tax_identification_number = BooleanFilter()
    billing_entity_codes = ListFilter(help_text="codes of the billing entities (404 for an unknown one)")
