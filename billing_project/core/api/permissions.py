from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission


class HasApiKey(BasePermission):
    """Every API call needs an authenticated organization key (set by the authentication class)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return getattr(request, "auth", None) is not None
