"""`OutputSerializer.fields` gives each serializer the fields DRF's deep copy and binding give it: for every
output serializer of the project, the same names, classes and attributes (nested serializers and
fields with a child are DRF's own deep copies), and fresh instances the next serializer does not share."""

from __future__ import annotations

import contextlib

import pytest
from django.apps import apps
from rest_framework import serializers

from billing_project.core.api.serializers import OutputSerializer


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    sub: type
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _all_outputs() -> list[type[OutputSerializer]]:
    import importlib

    for config in apps.get_app_configs():  # every app's serializers imported
        for module in ("api.serializers", "representation", "api.views"):
            with contextlib.suppress(ModuleNotFoundError):
                importlib.import_module(f"{config.name}.{module}")
    return sorted(set(_subclasses(OutputSerializer)), key=lambda cls: cls.__qualname__)


OUTPUTS = _all_outputs()


def test_the_read_paths_serializers_are_output_serializers():
    names = {cls.__name__ for cls in OUTPUTS}
    assert {"PlanOutput", "ChargeOutput", "SubscriptionOutput", "OrganizationOutput", "TaxOutput"} <= names


@pytest.mark.parametrize("output", OUTPUTS, ids=lambda cls: cls.__qualname__)
def test_the_fields_are_those_drf_builds_and_binds(output):
    serializer, reference = output(), output()
    ours = serializer.fields
    drfs = serializers.Serializer.fields.func(reference)  # type: ignore[attr-defined]  # DRF's own: deep copies bound one by one
    assert list(ours) == list(drfs)
    for name, field in ours.items():
        theirs = drfs[name]
        assert type(field) is type(theirs), name
        assert field is not output._declared_fields[name], name
        assert (field.parent, field.field_name) == (serializer, name)
        if isinstance(field, serializers.BaseSerializer) or hasattr(field, "child"):
            continue  # deep-copied and bound as DRF does
        assert field.__dict__.keys() == theirs.__dict__.keys(), name
        for key, value in field.__dict__.items():
            if key in ("_creation_counter", "parent"):
                continue  # DRF's instance count (read when a class's declared fields are sorted), the parent
            if key == "_validators":
                assert [type(v) for v in value] == [type(v) for v in theirs.__dict__[key]], name
            else:
                assert value == theirs.__dict__[key], (name, key)


@pytest.mark.parametrize("output", OUTPUTS, ids=lambda cls: cls.__qualname__)
def test_two_serializers_share_no_field(output):
    first, second = output(), output()
    for name, field in first.fields.items():
        assert field is not second.fields[name]
        assert field.parent is first and second.fields[name].parent is second
        assert output._declared_fields[name].__dict__.get("parent") is None  # the declared one stays unbound
