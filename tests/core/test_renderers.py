"""The orjson renderer writes what DRF's JSONRenderer writes (billing_project/core/api/renderers.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer as DrfJSONRenderer

from billing_project.core.api.renderers import JSONRenderer

UTC = dt.UTC


def both(data, accept=None, context=None):
    return (
        JSONRenderer().render(data, accept, context),
        DrfJSONRenderer().render(data, accept, context),
    )


@dataclasses.dataclass
class Point:
    x: int


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**15), max_value=10**15)
    | st.datetimes(timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))]))
    | st.datetimes()
    | st.dates()
    | st.times()
    | st.uuids()
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15).filter(
        lambda f: f == 0 or abs(f) >= 1e-4
    )
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_documents)
def test_same_bytes_as_drf_for_api_documents(document):
    ours, drf = both(document)
    assert ours == drf


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.decimals(allow_nan=False, allow_infinity=False))
def test_any_float_is_the_same_number(number):
    # Exponents are spelled differently (orjson `1e-6`, Python `1e-06`); the number is the same.
    ours, drf = both({"n": number})
    assert json.loads(ours) == json.loads(drf)


@pytest.mark.parametrize(
    "value",
    [
        {"at": dt.datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC)},  # DRF: ...123456Z
        {"on": dt.date(2026, 2, 28), "time": dt.time(23, 59, 1)},
        {"amount": Decimal("12.3400"), "id": uuid.UUID(int=7)},
        {"lazy": gettext_lazy("Invoice")},
        {"text": "line\u2028separator\u2029paragraph é ✓"},
        {"tuple": (1, 2), "nested": [{"a": None}]},
        {"big": 2**70},  # beyond orjson's 64 bits: DRF's renderer writes it
        {1: "int key", None: "none key"},  # non-string keys: DRF's renderer
        [],
        "",
    ],
)
def test_same_bytes_as_drf_for_edge_values(value):
    ours, drf = both(value)
    assert ours == drf
    json.loads(ours)


def test_none_renders_empty_body_and_indent_goes_through_drf():
    assert JSONRenderer().render(None) == b""
    ours, drf = both({"a": [1, 2]}, "application/json; indent=4")
    assert ours == drf
    assert b"\n    " in ours


def test_unencodable_value_fails_as_drf_fails():
    with pytest.raises(TypeError):
        JSONRenderer().render({"x": object()})
    with pytest.raises(TypeError):
        DrfJSONRenderer().render({"x": object()})
    with pytest.raises(TypeError):  # orjson would write a dataclass; DRF does not
        JSONRenderer().render({"point": Point(1)})


@pytest.mark.django_db
def test_api_responses_are_rendered_by_it(tenant):
    from rest_framework.settings import api_settings

    from tests.factories.customers import CustomerFactory

    assert api_settings.DEFAULT_RENDERER_CLASSES[0] is JSONRenderer

    CustomerFactory(organization=tenant.organization, external_id="c-sep", name="A\u2028B é")
    response = tenant.client.get("/api/v1/customers/c-sep")
    assert response.status_code == 200
    assert b'"name":"A\\u2028B \xc3\xa9"' in response.content  # compact, UTF-8, separator escaped
    assert response.json()["customer"]["name"] == "A\u2028B é"
    assert response.json()["customer"]["created_at"].endswith("Z")
