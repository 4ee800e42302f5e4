"""Output shapes shared by every app's API documentation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class PaginationMeta(serializers.Serializer):
    """Lago's list `meta` block (see `billing_project.core.api.pagination.meta_for`)."""

    current_page = serializers.IntegerField()
    next_page = serializers.IntegerField(allow_null=True)
    prev_page = serializers.IntegerField(allow_null=True)
    total_pages = serializers.IntegerField()
    total_count = serializers.IntegerField()


def optional_text(value: object) -> str | None:
    """Output text that is `null` when unset, as Lago renders it.

    bxb stores an unset optional text (an address line, a country, an email) as `""`; Lago stores
    and renders `null`, and its clients type some of these fields as enums (`country`) that `""`
    does not decode into. Empty text is rendered `null` (docs/lago-compatibility.md).
    """
    return str(value) if value not in (None, "") else None


class OptionalTextField(serializers.CharField):
    """`optional_text` as a declared output field (the schema says `string`, nullable)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value: object) -> Any:  # `str | None`; DRF's stubs say `str`
        return optional_text(value)
