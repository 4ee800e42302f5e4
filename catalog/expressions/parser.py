"""Tokenizer and recursive-descent parser of the expression language (see the package docstring).

The tree is made of tuples: ("num", Decimal) ("str", text) ("var", attribute) ("neg", node)
("bin", op, left, right) ("call", name, (args...)); each carries its depth as the last item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

MAX_LENGTH = 2000
MAX_NESTING = 32
MAX_TREE_DEPTH = 200
MAX_NUMBER_DIGITS = 60
MAX_STRING_LENGTH = 10_000
FUNCTIONS = {"round": (1, 2), "ceil": (1, 2), "floor": (1, 2), "concat": (1, 100)}


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
    if word.lower() in FUNCTIONS and word in (word.lower(), word.upper(), word.capitalize()):
        return _Token("function", word.lower(), position)
    raise ExpressionError(f"unknown name {word!r} at position {position}")


# --- tree --------------------------------------------------------------------------------------


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
        return self.left_to_right("+-", self.term)

    def term(self) -> tuple:
        return self.left_to_right("*/", self.unary)

    def left_to_right(self, operators: str, operand: Callable[[], tuple]) -> tuple:
        """`operand (op operand)*` for the operators of one precedence level, grouped to the left."""
        node = operand()
        while self.current.kind == "op" and self.current.value in operators:
            op = self.advance().value
            node = _binary(op, node, operand())
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
        low, high = FUNCTIONS[name]
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


def parse_tree(text: str) -> tuple:
    """The syntax tree of `text`; raises ExpressionError."""
    if not isinstance(text, str):
        raise ExpressionError("the expression must be a string")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    return _Parser(_tokenize(text)).parse()
