"""JSON parsing that keeps numbers exact: fractional numbers become Decimal, never float.

Every body is also checked here, once, for what no field can hold (docs/api-input.md):
* a NUL character in any string or key (PostgreSQL text and jsonb refuse them): 400;
* a lone UTF-16 surrogate (`"\\ud800"`), which is no character and cannot be encoded: 400.

Numbers are not bounded here: free-form maps (event `properties`) keep any number exactly; each
typed field has its own bound (`billing_project/core/bounds.py`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _strings(value: Any) -> Iterator[str]:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _contains_nul(value: Any) -> bool:
    """Whether a NUL character hides in any string or key."""
    return any("\x00" in item for item in _strings(value))


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _contains_surrogate(value: Any) -> bool:
    return any(_has_surrogate(item) for item in _strings(value))


# Cheap tests on the text before any walk over the parsed document: a NUL can only arrive as the
# escape `\u0000` (a raw control character inside a string is a parse error), a surrogate only as
# an escape `\ud800`-`\udfff`.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def check_parsed(text: str, data: Any) -> Any:
    """Refuse a parsed body holding what no field accepts; return it unchanged otherwise."""
    if "\\u0000" in text and _contains_nul(data):
        raise ParseError("malformed JSON: NUL characters are not accepted")
    if _SURROGATE_ESCAPE.search(text) and _contains_surrogate(data):
        raise ParseError("malformed JSON: lone surrogates are not accepted (strings must be valid Unicode)")
    return data


_local = threading.local()


def _decoder() -> json.JSONDecoder:
    """The exact decoder, built once per thread (`json.loads` with arguments builds one per call;
    a decoder holds a scanner with per-call state, so threads do not share one)."""
    decoder = getattr(_local, "decoder", None)
    if decoder is None:
        decoder = _local.decoder = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)
    return decoder


def decode_body(raw: bytes, encoding: str) -> str:
    """The body as text. A charset that is not a text encoding (`rot13`, `base64`) or unknown is a
    415; the request guard refuses those before the view (`billing_project.core.api.guard`)."""
    try:
        return raw.decode(encoding)
    except LookupError as exc:
        raise UnsupportedMediaType(f"charset={encoding}") from exc


def parse_json_bytes(raw: bytes, encoding: str) -> Any:
    """A JSON body exactly (fractions as Decimal) and checked (`check_parsed`); `ParseError` (400)
    or `UnsupportedMediaType` (415) as DRF's parser raises them. An empty body is `{}`."""
    try:
        if not raw:
            return {}
        text = decode_body(raw, encoding)
        data = _decoder().decode(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"malformed JSON: {exc}") from exc
    except RecursionError as exc:
        raise ParseError("malformed JSON: nested too deeply") from exc
    return check_parsed(text, data)


class ExactJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            raw = stream.read() if stream is not None else b""
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"malformed JSON: {exc}") from exc
        return parse_json_bytes(raw, encoding)
