"""Every API error leaves as JSON in Lago's shape (docs/lago-compatibility.md §1.5)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from billing_project.core import errors

logger = logging.getLogger(__name__)

# The reason each status carries in `error` (Lago's words, fixed here: Python's HTTPStatus phrases
# change between versions).
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def lago_error(status: int, code: str | None = None, *, error: str | None = None) -> dict[str, Any]:
    """Lago's error body, `lago_error(404, "customer_not_found")`: the
    status, its reason (or `error`), and the code when there is one."""
    body: dict[str, Any] = {"status": status, "error": _REASONS[status] if error is None else error}
    if code is not None:
        body["code"] = code
    return body


# DRF's own validation codes, translated to the codes Lago clients know.
_DRF_CODE_MAP = {
    "required": "value_is_mandatory",
    "null": "value_is_mandatory",
    "blank": "value_is_mandatory",
    "unique": "value_already_exist",
    "invalid": "value_is_invalid",
    "invalid_choice": "value_is_invalid",
    "not_a_list": "value_is_invalid",
    "not_a_dict": "value_is_invalid",
    "empty": "value_is_invalid",
    "max_length": "value_is_invalid",
    "min_length": "value_is_invalid",
    "max_value": "value_is_invalid",
    "min_value": "value_is_invalid",
    "max_digits": "value_is_invalid",
    "max_decimal_places": "value_is_invalid",
    "max_whole_digits": "value_is_invalid",
    "max_string_length": "value_is_invalid",
    "does_not_exist": "value_is_invalid",
    "incorrect_type": "value_is_invalid",
    "date": "invalid_format",
    "datetime": "invalid_format",
    "make_aware": "invalid_date",
    "overflow": "value_is_invalid",
}


def lago_code(code: str | None) -> str:
    if not code:
        return "value_is_invalid"
    return _DRF_CODE_MAP.get(code, code)


def flatten_codes(codes: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested `get_codes()` structure into Lago's `{field: [codes]}` map."""
    result: dict[str, list[str]] = {}

    def add(key: str, code: str) -> None:
        bucket = result.setdefault(key or "base", [])
        mapped = lago_code(code)
        if mapped not in bucket:
            bucket.append(mapped)

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for sub, value in node.items():
                if sub == "non_field_errors":
                    walk(value, key or "base")  # an object-level error belongs to the object's field
                else:
                    walk(value, f"{key}.{sub}" if key else str(sub))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, dict | list):
                    if value:
                        walk(value, f"{key}.{index}" if isinstance(value, dict) else key)
                else:
                    add(key, str(value))
        elif node is not None:
            add(key, str(node))

    walk(codes, prefix)
    return result


def validation_body(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": details,
    }


PAYLOAD_TOO_LARGE_BODY = lago_error(413, "payload_too_large")


def error_body(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Map an exception to (status, body, headers); raises nothing."""
    headers: dict[str, str] = {}
    if isinstance(exc, errors.ValidationFailure):
        return 422, validation_body(exc.details), headers
    if isinstance(exc, errors.NotFoundFailure):
        return 404, lago_error(404, exc.code), headers
    if isinstance(exc, errors.NotAllowedFailure):
        return 405, lago_error(405, exc.code), headers
    if isinstance(exc, errors.ForbiddenFailure):
        return 403, lago_error(403, exc.code), headers
    if isinstance(exc, errors.ConflictFailure):
        return 409, lago_error(409, exc.code), headers
    if isinstance(exc, errors.ProviderFailure):
        body = {
            "status": 422,
            "error": "Unprocessable Entity",
            "code": "provider_error",
            "provider": {"code": exc.provider_code},
            "error_details": exc.details,
        }
        return 422, body, headers
    if isinstance(exc, errors.UnavailableFailure):
        headers["Retry-After"] = str(exc.retry_after)
        return 503, lago_error(503, exc.code), headers
    if isinstance(exc, errors.BadRequestFailure):
        return 400, lago_error(400, error=f"BadRequest: {exc.message}"), headers
    if isinstance(exc, RequestDataTooBig):
        return 413, dict(PAYLOAD_TOO_LARGE_BODY), headers
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return 401, lago_error(401), headers
    if isinstance(exc, drf.PermissionDenied | DjangoPermissionDenied):
        code = getattr(exc, "default_code", "forbidden")
        detail = getattr(exc, "detail", None)
        if hasattr(detail, "code") and detail.code:
            code = detail.code
        return 403, lago_error(403, str(code)), headers
    if isinstance(exc, drf.ParseError):
        return 400, lago_error(400, error=f"BadRequest: {exc.detail}"), headers
    if isinstance(exc, drf.UnsupportedMediaType):
        return 415, lago_error(415, "unsupported_media_type"), headers
    if isinstance(exc, drf.ValidationError):
        return 422, validation_body(flatten_codes(exc.get_codes())), headers
    if isinstance(exc, drf.NotFound | Http404):
        return 404, lago_error(404, "resource_not_found"), headers
    if isinstance(exc, drf.MethodNotAllowed):
        return 405, lago_error(405, "method_not_allowed"), headers
    if isinstance(exc, drf.Throttled):
        wait = int(exc.wait or 1)
        headers["Retry-After"] = str(wait)
        return 429, lago_error(429, "too_many_requests"), headers
    if isinstance(exc, drf.APIException):
        status = exc.status_code
        return status, {"status": status, "error": str(exc.detail), "code": str(exc.default_code)}, headers
    raise exc


def lago_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    try:
        status, body, headers = error_body(exc)
    except Exception:  # noqa: BLE001 - anything unknown is a 500, logged by Django
        return None
    response = Response(body, status=status)
    for key, value in headers.items():
        response[key] = value
    extra = getattr(exc, "response_headers", None)
    if extra:
        for key, value in extra.items():
            response[key] = value
    return response


# Django-level handlers so nothing under the API is ever an HTML page.
def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(lago_error(404, "resource_not_found"), status=404)


def json_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(lago_error(500, "internal_error"), status=500)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(PAYLOAD_TOO_LARGE_BODY, status=413)
    return JsonResponse(lago_error(400, error="BadRequest: the request could not be read"), status=400)


def json_permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(lago_error(403, "forbidden"), status=403)
