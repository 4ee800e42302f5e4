"""The API's JSON renderer: DRF's output, produced by orjson.

DRF's `JSONRenderer` encodes with the standard library; on an invoice list (20 invoices, ~50 KB)
that was about 8 % of a gunicorn worker's CPU under the mixed API load (`bench/api_load.py`).
orjson writes the same document several times faster. The output is kept the same as DRF's:

- the types the standard library encodes natively (dict, list, tuple, str, int, float, bool,
  None, and their subclasses) are encoded by orjson natively, with the same compact separators
  and UTF-8 text (DRF's `UNICODE_JSON`/`COMPACT_JSON` defaults);
- everything else (datetime, date, time, Decimal, UUID, lazy strings, dataclasses, querysets...)
  goes through DRF's own `JSONEncoder.default`, so a datetime is still `...Z` in UTC, a Decimal
  still what DRF makes of it;
- U+2028 and U+2029 are escaped, as DRF does;
- whatever orjson refuses (integers beyond 64 bits, non-string keys, nesting deeper than 254)
  and any request for indented output (`Accept: application/json; indent=4`, the browsable API)
  is rendered by DRF's renderer itself, errors included.

Two differences remain, both on floats, which the API's documents do not carry (amounts are integer
cents, prices and quantities strings): orjson spells some exponents differently (`1e-5` where Python
writes `1e-05`, the same number), and writes NaN and infinity as `null` where DRF's strict renderer
fails the request with a 500.
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_DEFAULT = JSONEncoder().default
_LINE_SEPARATOR, _PARAGRAPH_SEPARATOR = "\u2028".encode(), "\u2029".encode()


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        if self.ensure_ascii or not self.compact or self._indent(accepted_media_type, renderer_context):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            rendered = orjson.dumps(data, default=_DEFAULT, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError, ValueError):
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80" in rendered:  # the first two bytes of both separators' UTF-8
            rendered = rendered.replace(_LINE_SEPARATOR, b"\\u2028").replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
        return rendered

    def _indent(self, accepted_media_type: str | None, renderer_context: Any) -> Any:
        """DRF's `get_indent`, without parsing a media type that has no parameters (what clients
        send: `application/json`), where it could only find no `indent`."""
        if accepted_media_type and ";" in accepted_media_type:
            return self.get_indent(accepted_media_type, renderer_context or {})
        return (renderer_context or {}).get("indent")
