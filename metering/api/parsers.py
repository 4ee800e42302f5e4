"""The batch endpoint's JSON parser: `ExactJSONParser`'s answers, with the standard library's
`json.loads` on UTF-8 bodies (the common case), and the same checks on the parsed document."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rest_framework.exceptions import ParseError

from billing_project.core.api.parsers import ExactJSONParser, check_parsed


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _Replay:
    """The already read body, handed to the parent parser."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def read(self) -> bytes:
        return self.raw


class BatchJSONParser(ExactJSONParser):
    """Same result as `ExactJSONParser` (fractional numbers become `Decimal`; NUL characters and
    lone surrogates are a 400), cheaper on large bodies. `check_parsed` walks the document only
    when the raw text shows there may be something to find (an escape `\\u0000` or `\\ud8..`)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = str((parser_context or {}).get("encoding") or "utf-8").lower().replace("-", "").replace("_", "")
        raw = stream.read() if stream is not None else b""
        if encoding != "utf8":
            return super().parse(_Replay(raw), media_type, parser_context)
        if not raw:
            return {}
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"malformed JSON: {exc}") from exc
        except RecursionError as exc:
            raise ParseError("malformed JSON: nested too deeply") from exc
        return check_parsed(text, data)
