"""`validate_input` reuses a serializer class's bound fields between requests
(billing_project/core/api/views.py); it must answer exactly as a fresh DRF serializer does."""

from __future__ import annotations

import threading

import pytest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from billing_project.core.api.exceptions import flatten_codes
from billing_project.core.api.views import _FIELD_POOLS, validate_input
from billing_project.core.errors import ValidationFailure
from customers.api.serializers import CustomerInput


class AddressIn(serializers.Serializer):
    city = serializers.CharField(max_length=5)
    zipcode = serializers.CharField(required=False)


class LineIn(serializers.Serializer):
    code = serializers.CharField()
    units = serializers.IntegerField(min_value=0)


class OrderIn(serializers.Serializer):
    name = serializers.CharField(max_length=8)
    address = AddressIn()
    lines = LineIn(many=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=3), required=False)

    def validate_name(self, value):
        if value == "forbidden":
            raise ValidationError("forbidden_name")
        return value


class OwnFields(serializers.Serializer):
    def get_fields(self):
        return {"x": serializers.IntegerField()}


def fresh(serializer_class, data, partial=False):
    """What DRF alone answers: the validated data, or the error codes validate_input raises."""
    serializer = serializer_class(data=data, partial=partial)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    return flatten_codes(ValidationError(serializer.errors).get_codes())


def reused(serializer_class, data, partial=False):
    try:
        return validate_input(serializer_class, data, partial=partial)
    except ValidationFailure as failure:
        return failure.details


CASES = [
    ({"name": "ok", "address": {"city": "Paris"}}, False),
    ({"name": "ok"}, False),  # nested required missing
    ({"name": "ok"}, True),  # partial: the nested field may be missing
    ({"address": {}}, True),  # partial reaches the nested serializer through its parent
    ({"address": {}}, False),
    ({"name": "far too long", "address": {"city": "Amsterdam"}}, False),
    ({"name": "forbidden", "address": {"city": "Rome"}}, False),
    (
        {"name": "ok", "address": {"city": "Rome"}, "lines": [{"code": "a", "units": 2}, {"code": "b", "units": -1}]},
        False,
    ),
    ({"name": "ok", "address": {"city": "Rome"}, "lines": [{"code": "a", "units": 2}]}, False),
    ({"name": "ok", "address": {"city": "Rome"}, "tags": ["abc", "abcd"]}, False),
    ({"name": "ok", "address": "not an object"}, False),
    ("not an object", False),
]


def test_reused_fields_answer_as_fresh_ones_in_every_order():
    _FIELD_POOLS.clear()
    for _ in range(3):  # the second and third rounds run on borrowed fields
        for data, partial in CASES + CASES[::-1]:
            assert reused(OrderIn, data, partial) == fresh(OrderIn, data, partial), (data, partial)
    assert len(_FIELD_POOLS[OrderIn]) == 1  # one request at a time: one set of fields, reused


def test_errors_are_named_as_before():
    with pytest.raises(ValidationFailure) as failure:
        validate_input(OrderIn, {"name": "ok"})
    assert "address" in failure.value.details


def test_a_serializer_building_its_own_fields_is_left_alone():
    assert reused(OwnFields, {"x": "3"}) == {"x": 3}
    assert reused(OwnFields, {"x": "nope"}) == fresh(OwnFields, {"x": "nope"})
    assert OwnFields not in _FIELD_POOLS or not _FIELD_POOLS[OwnFields]


def test_concurrent_requests_never_share_fields():
    _FIELD_POOLS.clear()
    mismatches: list[object] = []

    def run(offset):
        try:
            for i in range(150):
                data, partial = CASES[(i + offset) % len(CASES)]
                if reused(OrderIn, data, partial) != fresh(OrderIn, data, partial):
                    mismatches.append((data, partial))
        except Exception as exc:  # a failure in a thread must fail the test
            mismatches.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mismatches == []
    assert 1 <= len(_FIELD_POOLS[OrderIn]) <= 8


@pytest.mark.parametrize("partial", [False, True])
def test_the_customer_input_validates_as_before(partial):
    payloads = [
        {"external_id": "c1", "name": "A", "currency": "EUR", "metadata": [{"key": "k", "value": "v"}]},
        {"external_id": "c1", "billing_configuration": {"invoice_grace_period": -1}},
        {"external_id": "", "country": "FRA", "shipping_address": {"city": "x" * 300}},
        {"name": "no external id", "net_payment_term": "soon"},
    ]
    for _ in range(2):
        for data in payloads:
            assert reused(CustomerInput, data, partial) == fresh(CustomerInput, data, partial)
