"""Output shapes shared by every app's API documentation."""

from __future__ import annotations

from rest_framework import serializers


class PaginationMeta(serializers.Serializer):
    """Lago's list `meta` block (see `billing_project.core.api.pagination.meta_for`)."""

    current_page = serializers.IntegerField()
    next_page = serializers.IntegerField(allow_null=True)
    prev_page = serializers.IntegerField(allow_null=True)
    total_pages = serializers.IntegerField()
    total_count = serializers.IntegerField()
