"""`LagoFilterSet.parse` answers what the filterset's own form answers, for every list's filters."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.urls import get_resolver
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from billing_project.core.api.filters import _DATE_CODES, LagoFilterSet
from billing_project.core.errors import ValidationFailure

QUERIES = [
    "",
    "page=2&per_page=1",
    "per_page=0",
    "page=abc&per_page=1.0",
    "page=%2B5&per_page=%205%20",
    "page=99999999999999999999",
    "per_page=",
    "external_id=a&search_term=&currencies[]=USD&currencies[]=EUR&currencies=USD",
    "customer_type=company&has_customer_type=true&has_tax_identification_number=0",
    "customer_type=robot&has_customer_type=maybe",
    "status=active&status[]=terminated&external_customer_id=c1",
    "issuing_date_from=2024-01-31&issuing_date_to=2024-13-01",
    "from_date=1999-12-31&to_date=2101-01-01",
    "timestamp_from=2024-01-01T00:00:00Z&timestamp_to=yesterday",
    "from_datetime=1700000000&to_datetime=2024-02-30T00:00:00",
    "amount_from=10&amount_to=-5&code=x" + "y" * 1100,
    "payment_status[]=pending&payment_status[]=nope&currency=usd",
    "time_granularity=daily&months=13&external_subscription_id=s",
]


def _filtersets() -> list[type[LagoFilterSet]]:
    assert get_resolver().url_patterns  # the API's modules (and their filtersets) are imported
    found: list[type[LagoFilterSet]] = []
    pending = list(LagoFilterSet.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls not in found:
            found.append(cls)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _form_answer(cls: type[LagoFilterSet], data: QueryDict) -> tuple[str, object]:
    """What the filterset's form says: django-filter's own validation, as `parse` did before."""
    form = cls(data).form
    if not form.is_valid():
        errors = {}
        for field, problems in form.errors.as_data().items():
            codes = ["invalid_date" if p.code in _DATE_CODES else "value_is_invalid" for p in problems]
            errors[field] = list(dict.fromkeys(codes))
        return "422", errors
    return "ok", dict(form.cleaned_data)


def _parse_answer(cls: type[LagoFilterSet], query: str) -> tuple[str, object]:
    request = Request(APIRequestFactory().get(f"/api/v1/x?{query}"))
    try:
        # The class's own `parse` where it does not override it (an override may read more).
        return "ok", LagoFilterSet.parse.__func__(cls, request)  # type: ignore[attr-defined]
    except ValidationFailure as failure:
        return "422", failure.details


def test_every_api_filterset_is_compared():
    assert len(_filtersets()) >= 15


@pytest.mark.parametrize("query", QUERIES)
def test_parse_matches_the_form(query):
    for cls in _filtersets():
        expected = _form_answer(cls, QueryDict(query))
        assert _parse_answer(cls, query) == expected, (cls.__name__, query)


def test_parse_keeps_no_state_between_requests():
    from customers.api.filters import CustomerFilters

    request = Request(APIRequestFactory().get("/api/v1/customers?currencies[]=USD&external_id=a"))
    first = CustomerFilters.parse(request)
    first["currencies"].append("EUR")
    again = CustomerFilters.parse(Request(APIRequestFactory().get("/api/v1/customers")))
    assert again["currencies"] == [] and again["external_id"] is None
    assert CustomerFilters.parse(request)["currencies"] == ["USD"]
