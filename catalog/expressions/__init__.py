"""A billable metric's `expression`: a small, safe arithmetic language over an event.

It follows Lago's expression language (getlago/lago-expression, used by api
`app/services/events/calculate_expression_service.rb`); at ingestion the result is stored in the
event's `properties[field_name]`. Pure Python: no eval/exec/ast, no Django.

Grammar::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" primary | primary
    primary := NUMBER | STRING | VARIABLE | FUNCTION "(" expr ("," expr)* ")" | "(" expr ")"
    NUMBER  := digits ["." digits]                      e.g. 12, 0.000001
    STRING  := "'" any characters but "'" "'"           e.g. '-'
    VARIABLE:= event.properties.<name> | event.timestamp | event.code
               (<name>: a letter, then letters, digits or "_")
    FUNCTION:= round(x[, digits]) | ceil(x[, digits]) | floor(x[, digits]) | concat(a, b, ...)
               (names in lower, UPPER or Capitalized case, as Lago)

`round` is half-up, `ceil` rounds toward +infinity, `floor` toward -infinity; `digits` may be
negative (tens, hundreds...). A property that is a numeric string counts as a number (Lago does
the same); `concat` joins strings and numbers into a string. Arithmetic is Decimal with 60
significant digits (exact for everything a meter sends in practice).

Safety: the text is at most `MAX_LENGTH` characters, nesting (parentheses, calls, unary minus) at
most `MAX_NESTING` deep, the parsed tree at most `MAX_TREE_DEPTH` deep, and numbers are bounded in
size, so hostile input cannot exhaust the stack, memory or CPU. Every failure is an
`ExpressionError` with a readable message.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache

from .evaluator import evaluate_tree, format_value
from .parser import (
    MAX_LENGTH,
    MAX_NESTING,
    MAX_NUMBER_DIGITS,
    MAX_STRING_LENGTH,
    MAX_TREE_DEPTH,
    ExpressionError,
    parse_tree,
)

__all__ = [
    "MAX_LENGTH",
    "MAX_NESTING",
    "MAX_NUMBER_DIGITS",
    "MAX_STRING_LENGTH",
    "MAX_TREE_DEPTH",
    "Expression",
    "ExpressionError",
    "evaluate",
    "evaluate_value",
    "format_value",
    "parse",
    "validate",
]


class Expression:
    """A parsed expression; immutable and reusable across events."""

    __slots__ = ("_tree", "text")

    def __init__(self, text: str, tree: tuple):
        self.text = text
        self._tree = tree

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def evaluate_value(self, event: Mapping) -> Decimal | str:
        """The value for this event: a Decimal, or a string (`concat`, a string property)."""
        return evaluate_tree(self._tree, event)

    def evaluate(self, event: Mapping) -> Decimal:
        value = self.evaluate_value(event)
        if isinstance(value, str):
            raise ExpressionError(f"the expression gives the text {value[:50]!r}, not a number")
        return value


def parse(text: str) -> Expression:
    """Parse `text`; raises ExpressionError with a readable message."""
    if not isinstance(text, str):
        raise ExpressionError("the expression must be a string")
    return _parse_cached(text)


@lru_cache(maxsize=512)
def _parse_cached(text: str) -> Expression:
    return Expression(text, parse_tree(text))


def validate(text: str) -> list[str]:
    """`[]` when the expression parses, else Lago's code for the metric field: `["invalid_expression"]`."""
    try:
        parse(text)
    except ExpressionError:
        return ["invalid_expression"]
    return []


def evaluate(text_or_expr: str | Expression, event: Mapping) -> Decimal:
    """Evaluate to a Decimal for `event` = `{"code": str, "timestamp": number, "properties": {...}}`.

    Raises ExpressionError on a parse error, a missing property, a text where a number is needed,
    a division by zero, or a result that is text (use `evaluate_value` to accept text results).
    """
    expression = text_or_expr if isinstance(text_or_expr, Expression) else parse(text_or_expr)
    return expression.evaluate(event)


def evaluate_value(text_or_expr: str | Expression, event: Mapping) -> Decimal | str:
    """Like `evaluate`, but a text result (`concat(...)`, a string property) is returned as is."""
    expression = text_or_expr if isinstance(text_or_expr, Expression) else parse(text_or_expr)
    return expression.evaluate_value(event)
