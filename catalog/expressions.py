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

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    Underflow,
    localcontext,
)
from functools import lru_cache

from catalog.pricing.units import MAX_PRECISION, round_to

MAX_LENGTH = 2000
MAX_NESTING = 32
MAX_TREE_DEPTH = 200
MAX_NUMBER_DIGITS = 60
MAX_STRING_LENGTH = 10_000

_CONTEXT = Context(
    prec=60,
    rounding=ROUND_HALF_EVEN,
    Emax=10_000,
    Emin=-10_000,
    traps=[InvalidOperation, DivisionByZero, Overflow, Underflow],
)
_FUNCTIONS = {"round": (1, 2), "ceil": (1, 2), "floor": (1, 2), "concat": (1, 100)}
_ROUNDING_MODE = {"round": "round", "ceil": "ceil", "floor": "floor"}


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated; the message says why, for humans."""


# --- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, variable, function, op, lparen, rparen, comma, end
    value: str
    position: int


def _is_name_start(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _is_name_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char.isspace():
            index += 1
        elif char.isascii() and char.isdigit():
            start = index
            while index < length and text[index].isascii() and text[index].isdigit():
                index += 1
            if index < length and text[index] == ".":
                index += 1
                if not (index < length and text[index].isascii() and text[index].isdigit()):
                    raise ExpressionError(f"a number needs digits after '.' (position {index})")
                while index < length and text[index].isascii() and text[index].isdigit():
                    index += 1
            tokens.append(_Token("number", text[start:index], start))
        elif char == "'":
            end = text.find("'", index + 1)
            if end < 0:
                raise ExpressionError(f"unterminated string starting at position {index}")
            tokens.append(_Token("string", text[index + 1 : end], index))
            index = end + 1
        elif _is_name_start(char):
            start = index
            while index < length and (_is_name_char(text[index]) or text[index] == "."):
                index += 1
            word = text[start:index]
            tokens.append(_word_token(word, start))
        elif char in "+-*/":
            tokens.append(_Token("op", char, index))
            index += 1
        elif char == "(":
            tokens.append(_Token("lparen", char, index))
            index += 1
        elif char == ")":
            tokens.append(_Token("rparen", char, index))
            index += 1
        elif char == ",":
            tokens.append(_Token("comma", char, index))
            index += 1
        else:
            raise ExpressionError(f"unexpected character {char!r} at position {index}")
    tokens.append(_Token("end", "", length))
    return tokens


def _word_token(word: str, position: int) -> _Token:
    if word in ("event.timestamp", "event.code"):
        return _Token("variable", word, position)
    if word.startswith("event.properties."):
        name = word[len("event.properties.") :]
        if name and _is_name_start(name[0]) and all(_is_name_char(c) for c in name):
            return _Token("variable", word, position)
        raise ExpressionError(f"invalid property name in {word!r} at position {position}")
    if word.startswith("event"):
        raise ExpressionError(
            f"unknown event attribute {word!r} at position {position}; "
            "use event.properties.<name>, event.timestamp or event.code"
        )
    if word.lower() in _FUNCTIONS and word in (word.lower(), word.upper(), word.capitalize()):
        return _Token("function", word.lower(), position)
    raise ExpressionError(f"unknown name {word!r} at position {position}")


# --- tree --------------------------------------------------------------------------------------

# Nodes are tuples: ("num", Decimal) ("str", text) ("var", attribute) ("neg", node)
# ("bin", op, left, right) ("call", name, (args...)). Each carries its depth as the last item.


class _Parser:
    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.index = 0
        self.nesting = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, kind: str, what: str) -> _Token:
        token = self.current
        if token.kind != kind:
            found = "the end" if token.kind == "end" else repr(token.value)
            raise ExpressionError(f"expected {what} at position {token.position}, found {found}")
        return self.advance()

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ExpressionError(f"the expression is nested more than {MAX_NESTING} levels deep")

    def leave(self) -> None:
        self.nesting -= 1

    def parse(self) -> tuple:
        node = self.expr()
        if self.current.kind != "end":
            raise ExpressionError(f"unexpected {self.current.value!r} at position {self.current.position}")
        return node

    def expr(self) -> tuple:
        node = self.term()
        while self.current.kind == "op" and self.current.value in "+-":
            op = self.advance().value
            node = _binary(op, node, self.term())
        return node

    def term(self) -> tuple:
        node = self.unary()
        while self.current.kind == "op" and self.current.value in "*/":
            op = self.advance().value
            node = _binary(op, node, self.unary())
        return node

    def unary(self) -> tuple:
        if self.current.kind == "op" and self.current.value == "-":
            self.advance()
            if self.current.kind == "op":
                raise ExpressionError(f"unexpected {self.current.value!r} at position {self.current.position}")
            operand = self.primary()
            return ("neg", operand, _depth(operand) + 1)
        return self.primary()

    def primary(self) -> tuple:
        token = self.current
        if token.kind == "number":
            self.advance()
            digits = len(token.value.replace(".", "").lstrip("0"))
            if digits > MAX_NUMBER_DIGITS:
                raise ExpressionError(
                    f"the number at position {token.position} has more than {MAX_NUMBER_DIGITS} digits"
                )
            return ("num", Decimal(token.value), 1)
        if token.kind == "string":
            self.advance()
            return ("str", token.value, 1)
        if token.kind == "variable":
            self.advance()
            return ("var", token.value, 1)
        if token.kind == "function":
            return self.call()
        if token.kind == "lparen":
            self.advance()
            self.enter()
            node = self.expr()
            self.leave()
            self.expect("rparen", "')'")
            return node
        found = "the end of the expression" if token.kind == "end" else repr(token.value)
        raise ExpressionError(
            f"expected a number, a string, a variable or '(' at position {token.position}, found {found}"
        )

    def call(self) -> tuple:
        name_token = self.advance()
        name = name_token.value
        self.expect("lparen", f"'(' after {name}")
        self.enter()
        args = [self.expr()]
        while self.current.kind == "comma":
            self.advance()
            args.append(self.expr())
        self.leave()
        self.expect("rparen", "')'")
        low, high = _FUNCTIONS[name]
        if not low <= len(args) <= high:
            expected = "1 or 2 arguments" if name != "concat" else f"1 to {high} arguments"
            raise ExpressionError(f"{name}() takes {expected}, got {len(args)} (position {name_token.position})")
        return ("call", name, tuple(args), max(_depth(a) for a in args) + 1)


def _depth(node: tuple) -> int:
    return node[-1]


def _binary(op: str, left: tuple, right: tuple) -> tuple:
    depth = max(_depth(left), _depth(right)) + 1
    if depth > MAX_TREE_DEPTH:
        raise ExpressionError(f"the expression has more than {MAX_TREE_DEPTH} chained operations")
    return ("bin", op, left, right, depth)


# --- public API --------------------------------------------------------------------------------


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
        if not isinstance(event, Mapping):
            raise ExpressionError("the event must be an object with code, timestamp and properties")
        try:
            with localcontext(_CONTEXT):
                return _evaluate(self._tree, event)
        except (InvalidOperation, Overflow, Underflow) as exc:
            raise ExpressionError("the result is too large or not a number") from exc

    def evaluate(self, event: Mapping) -> Decimal:
        value = self.evaluate_value(event)
        if isinstance(value, str):
            raise ExpressionError(f"the expression gives the text {value[:50]!r}, not a number")
        return value


def parse(text: str) -> Expression:
    """Parse `text`; raises ExpressionError with a readable message."""
    if not isinstance(text, str):
        raise ExpressionError("the expression must be a string")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    return _parse_cached(text)


@lru_cache(maxsize=512)
def _parse_cached(text: str) -> Expression:
    return Expression(text, _Parser(_tokenize(text)).parse())


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


def format_value(value: Decimal | str) -> str:
    """A value as text, as `concat` and the API show it: decimals in plain notation, never `1E+2`."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


# --- evaluation --------------------------------------------------------------------------------


def _evaluate(node: tuple, event: Mapping) -> Decimal | str:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "str":
        return node[1]
    if kind == "var":
        return _variable(node[1], event)
    if kind == "neg":
        return -_number(_evaluate(node[1], event), "-")
    if kind == "bin":
        op = node[1]
        left = _number(_evaluate(node[2], event), op)
        right = _number(_evaluate(node[3], event), op)
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if right == 0:
            raise ExpressionError("division by zero")
        return left / right
    if kind == "call":
        return _call(node[1], node[2], event)
    raise ExpressionError(f"unknown node {kind}")  # pragma: no cover - the parser builds only the kinds above


def _number(value: Decimal | str, where: str) -> Decimal:
    if isinstance(value, str):
        raise ExpressionError(f"{where} needs numbers, got the text {value[:50]!r}")
    return value


def _call(name: str, args: tuple, event: Mapping) -> Decimal | str:
    if name == "concat":
        parts = [format_value(_evaluate(arg, event)) for arg in args]
        joined = "".join(parts)
        if len(joined) > MAX_STRING_LENGTH:
            raise ExpressionError(f"concat() would give more than {MAX_STRING_LENGTH} characters")
        return joined
    value = _number(_evaluate(args[0], event), f"{name}()")
    digits = 0
    if len(args) == 2:
        raw_digits = _number(_evaluate(args[1], event), f"{name}()")
        if raw_digits != raw_digits.to_integral_value() or abs(raw_digits) > MAX_PRECISION:
            raise ExpressionError(
                f"{name}() precision must be a whole number between -{MAX_PRECISION} and {MAX_PRECISION}"
            )
        digits = int(raw_digits)
    return round_to(value, digits, _ROUNDING_MODE[name])


def _variable(attribute: str, event: Mapping) -> Decimal | str:
    if attribute == "event.code":
        code = event.get("code")
        if code is None:
            raise ExpressionError("event.code is missing")
        return str(code)
    if attribute == "event.timestamp":
        timestamp = event.get("timestamp")
        if timestamp is None:
            raise ExpressionError("event.timestamp is missing")
        return _timestamp(timestamp)
    name = attribute[len("event.properties.") :]
    properties = event.get("properties") or {}
    if not isinstance(properties, Mapping) or properties.get(name) is None:
        raise ExpressionError(f"event.properties.{name} is missing")
    return _property(name, properties[name])


def _timestamp(value: object) -> Decimal:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ExpressionError("event.timestamp must be timezone-aware")
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        delta = value - epoch
        return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)
    parsed = _as_number(value)
    if parsed is None:
        raise ExpressionError("event.timestamp must be unix seconds")
    return +parsed


def _property(name: str, value: object) -> Decimal | str:
    if isinstance(value, bool):
        return "true" if value else "false"
    number = _as_number(value)
    if number is not None:
        return +number  # under the evaluation context: refuses absurd exponents
    if isinstance(value, str):
        return value
    raise ExpressionError(f"event.properties.{name} must be a number or a string")


def _as_number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 100:
            return None
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            return None
        return number if number.is_finite() else None
    return None
