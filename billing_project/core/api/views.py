"""Base API view and request helpers shared by every app's API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

from billing_project.core.api.exceptions import flatten_codes
from billing_project.core.api.parsers import ExactJSONParser
from billing_project.core.errors import BadRequestFailure, ValidationFailure
from billing_project.core.logging import bind_context


class OrganizationAPIView(APIView):
    """An API view bound to the organization of the calling API key.

    Set `resource_name` to the Lago resource the view serves (`"plan"`, `"invoice"`, ... one of
    `billing_project.core.api.permissions.RESOURCES`): scoped API keys are checked against it
    (403 `<mode>_action_not_allowed_for_<resource_name>`). Left unset, it is derived from the class
    name, and an unknown derived name is refused for every scoped key.
    """

    parser_classes = [ExactJSONParser]
    resource_name: str | None = None

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        organization_id = getattr(request.auth, "organization_id", None)
        if organization_id is not None:
            # Stays bound for the rest of the request (cleared on `request_finished`).
            bind_context(organization_id=str(organization_id))

    @property
    def organization(self) -> Any:
        return self.request.auth.organization

    @property
    def api_key(self) -> Any:
        return self.request.auth


def root_payload(request: Request, key: str) -> dict[str, Any]:
    """The object under Lago's root key; 400 when it is missing, as Lago does."""
    data = request.data
    if not isinstance(data, dict) or key not in data or data[key] in (None, "", {}, []):
        raise BadRequestFailure(f"param is missing or the value is empty or invalid: {key}")
    payload = data[key]
    if not isinstance(payload, dict):
        raise BadRequestFailure(f"param is missing or the value is empty or invalid: {key}")
    return payload


def validate_input(serializer_class: type[serializers.Serializer], data: Any, *, partial: bool = False) -> dict:
    """Run an input serializer; its errors become a ValidationFailure in Lago's shape."""
    serializer = serializer_class(data=data, partial=partial)
    if not serializer.is_valid():
        raise ValidationFailure(flatten_codes(ValidationError(serializer.errors).get_codes()))
    return dict(serializer.validated_data)


def query_bool(request: Request, name: str) -> bool | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    return value.strip().lower() in {"1", "true", "yes"}


def query_list(request: Request, name: str) -> list[str]:
    """Lago's list filters arrive as repeated `name[]=` keys (or plain `name=`)."""
    values = request.query_params.getlist(f"{name}[]") + request.query_params.getlist(name)
    return [value for value in values if value != ""]
