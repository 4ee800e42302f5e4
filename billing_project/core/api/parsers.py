"""JSON parsing that keeps numbers exact: fractional numbers become Decimal, never float."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _contains_nul(value: Any) -> bool:
    """Whether a NUL character hides in any string or key (PostgreSQL text and jsonb refuse them)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


_local = threading.local()


def _decoder() -> json.JSONDecoder:
    """The exact decoder, built once per thread (`json.loads` with arguments builds one per call;
    a decoder holds a scanner with per-call state, so threads do not share one)."""
    decoder = getattr(_local, "decoder", None)
    if decoder is None:
        decoder = _local.decoder = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)
    return decoder


class ExactJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            raw = stream.read() if stream is not None else b""
            if not raw:
                return {}
            text = raw.decode(encoding)
            data = _decoder().decode(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"malformed JSON: {exc}") from exc
        except RecursionError as exc:
            raise ParseError("malformed JSON: nested too deeply") from exc
        # A NUL can only come from the escape `\u0000` (a raw control character inside a JSON string
        # is a parse error), so bodies without that text skip the walk over the parsed value.
        if "\\u0000" in text and _contains_nul(data):
            raise ParseError("malformed JSON: NUL characters are not accepted")
        return data
