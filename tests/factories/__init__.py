"""Factories for the tests. `ModelFactory[M]` is factory-boy's DjangoModelFactory typed so that
`CustomerFactory()` is a `Customer` to mypy (factory-boy's metaclass `__call__` is untyped)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import factory

M = TypeVar("M")


class ModelFactory(factory.django.DjangoModelFactory[M]):
    class Meta:
        abstract = True

    if TYPE_CHECKING:

        def __new__(cls, *args: Any, **kwargs: Any) -> M: ...  # type: ignore[misc]
