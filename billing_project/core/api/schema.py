"""drf-spectacular hooks."""

from __future__ import annotations

import inspect
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.plumbing import get_doc


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema of an operation, its summary the method's docstring: a view method
    says what it does as any Python function does (`def get(...)` documented "List payments"), and
    its `@endpoint(...)` holds one line. The description stays the view class's docstring, where
    drf-spectacular would take the method's."""

    def get_summary(self) -> str | None:
        method = getattr(self.view, getattr(self.view, "action", self.method.lower()), None)
        doc = inspect.cleandoc(method.__doc__) if method is not None and method.__doc__ else ""
        return doc or None

    def get_description(self) -> str:  # type: ignore[override]  # as drf-spectacular's
        return get_doc(self.view.__class__)


def only_canonical_paths(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """Document each operation once, under /api/v1 (the /v1 alias serves the same views)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]


# Serializer class name → output fields the serializer leaves out when they are null (Lago omits them),
# so the schema must not list them as required. Filled by `omitted_when_null`.
_OMITTED_WHEN_NULL: dict[str, set[str]] = {}

# Lago's error body (see exceptions.py), answered by every operation for the statuses below.
ERROR_COMPONENT = "LagoError"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "integer"},
        "error": {"type": "string"},
        "code": {"type": "string"},
        "error_details": {"type": "object", "additionalProperties": True},
    },
    "required": ["status", "error"],
}
ERROR_STATUSES = {
    "400": "Bad request (malformed JSON, missing root key)",
    "401": "Missing or invalid API key",
    "403": "The API key's permissions do not allow this",
    "404": "Not found (or another organization's)",
    "405": "Not allowed in the resource's current state",
    "409": "Conflicting state change",
    "422": "Validation errors",
    "429": "Rate limit exceeded",
}


def omitted_when_null(*fields: str) -> Any:
    """Class decorator for output serializers whose `to_representation` drops these keys when null."""

    def decorate(cls: Any) -> Any:
        _OMITTED_WHEN_NULL.setdefault(cls.__name__, set()).update(fields)
        return cls

    return decorate


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing: Lago error responses on every operation; omitted-when-null fields not required."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_COMPONENT] = ERROR_SCHEMA
    for component, fields in _OMITTED_WHEN_NULL.items():
        schema = schemas.get(component)
        if schema and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in fields]
    error_content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, description in ERROR_STATUSES.items():
                operation["responses"].setdefault(status, {"description": description, "content": error_content})
    return result
