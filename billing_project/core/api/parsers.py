"""JSON parsing that keeps numbers exact: fractional numbers become Decimal, never float."""

from __future__ import annotations

import json
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


class ExactJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            raw = stream.read() if stream is not None else b""
            if not raw:
                return {}
            data = json.loads(raw.decode(encoding), parse_float=Decimal, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"malformed JSON: {exc}") from exc
        except RecursionError as exc:
            raise ParseError("malformed JSON: nested too deeply") from exc
        if _contains_nul(data):
            raise ParseError("malformed JSON: NUL characters are not accepted")
        return data
