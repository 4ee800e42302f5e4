"""The batch endpoint's JSON parser: `ExactJSONParser`'s answers, without walking the whole
document for NUL characters when the raw bytes show there can be none."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rest_framework.exceptions import ParseError

from billing_project.core.api.parsers import ExactJSONParser


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _Replay:
    """The already read body, handed to the parent parser."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def read(self) -> bytes:
        return self.raw


class BatchJSONParser(ExactJSONParser):
    """Same result as `ExactJSONParser` (fractional numbers become `Decimal`, NUL characters are a
    400), cheaper on large bodies. A strict JSON parser refuses a raw control character inside a
    string, so in UTF-8 a NUL can only arrive as the escape `\\u0000`; when those six bytes are
    absent, the walk over every string and key of the parsed document is skipped. When they are
    present (even as an escaped backslash followed by `u0000`, which is no NUL) the parent parser's
    full check decides."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = str((parser_context or {}).get("encoding") or "utf-8").lower().replace("-", "").replace("_", "")
        raw = stream.read() if stream is not None else b""
        if encoding != "utf8" or b"\\u0000" in raw:
            return super().parse(_Replay(raw), media_type, parser_context)
        if not raw:
            return {}
        try:
            return json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"malformed JSON: {exc}") from exc
        except RecursionError as exc:
            raise ParseError("malformed JSON: nested too deeply") from exc
