"""Content negotiation with a shortcut for what API clients send.

DRF parses the `Accept` header on every request to pick a renderer. Lago's clients (and curl,
wrk, browsers' fetch) send no `Accept`, `*/*` or `application/json`, for which the answer is
known without parsing: the view's first renderer for the first two, and the first renderer when
it is JSON for the third. Anything else (another media type, parameters, `?format=`, a format
suffix) goes through DRF's own negotiation, 406 included, unchanged. Likewise a request body whose
`Content-Type` is exactly the first parser's media type gets that parser without parsing types.
"""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation

_ANY = ("", "*/*")


class ApiContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        if format_suffix is None and renderers:
            # The Django request's (DRF's `Request` finds `META` only after a failed attribute lookup).
            meta = getattr(request, "_request", request).META
            accept = meta.get("HTTP_ACCEPT", "")
            # No query string, no `?format=`: the query parameters are not parsed for it.
            if (accept in _ANY or accept == renderers[0].media_type) and (
                not meta.get("QUERY_STRING") or self.settings.URL_FORMAT_OVERRIDE not in request.query_params
            ):
                return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)

    def select_parser(self, request: Any, parsers: Any) -> Any:
        # A body sent as exactly the first parser's media type (`application/json`, what clients
        # send) is that parser's, as DRF's first-match loop would find, without parsing the types.
        if parsers and request.content_type == parsers[0].media_type:
            return parsers[0]
        return super().select_parser(request, parsers)
