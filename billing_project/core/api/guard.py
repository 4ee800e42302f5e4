"""What every API request carries is checked here once, before any view runs (docs/api-input.md).

* The path (ids in it included) and the query string hold no NUL character: PostgreSQL cannot
  compare or store one, so a lookup by such an id would fail in the database. 400.
* A body's declared `charset` is UTF-8 (JSON is UTF-8, RFC 8259); anything else, `rot13`,
  `base64` or an unknown name, is a 415 before the parser tries to decode with it.

Bodies themselves (NUL characters, lone surrogates, numbers too large for any column) are checked
by the JSON parser (`billing_project.core.api.parsers`); list filters by their FilterSets.
"""

from __future__ import annotations

import codecs

from django.http import HttpRequest, JsonResponse

from billing_project.core.api.exceptions import lago_error

_UTF8 = {"utf-8", "ascii"}  # codec names after codecs.lookup(); ASCII is a subset of UTF-8


def _bad_request(message: str) -> JsonResponse:
    return JsonResponse(lago_error(400, error=f"BadRequest: {message}"), status=400)


def _has_nul_in_query(request: HttpRequest) -> bool:
    raw = request.META.get("QUERY_STRING", "")
    if "%00" not in raw and "\x00" not in raw:
        return False
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists())


def _charset_refused(request: HttpRequest) -> str | None:
    charset = request.content_params.get("charset") if request.content_params else None
    if charset is None:
        return None
    try:
        name = codecs.lookup(charset.strip().strip('"')).name
    except LookupError:
        return charset
    return None if name in _UTF8 else charset


def refusal(request: HttpRequest) -> JsonResponse | None:
    """The error answer for a request no API view should see, or None."""
    if "\x00" in request.path:
        return _bad_request("NUL characters are not accepted in the path")
    if _has_nul_in_query(request):
        return _bad_request("NUL characters are not accepted in query parameters")
    charset = _charset_refused(request)
    if charset is not None:
        body = lago_error(415, "unsupported_media_type")
        return JsonResponse(body, status=415)
    return None
