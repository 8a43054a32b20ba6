"""The ``filter`` parameter: a small, exact subset of CQL2 (basic CQL2) over ``eo:cloud_cover``.

Supported: comparisons (``= <> < <= > >=``) between a queryable and a number, ``IS [NOT] NULL``,
``AND`` / ``OR`` / ``NOT`` and parentheses, in cql2-text and cql2-json. Text is parsed into the
cql2-json tree, so one compiler turns both into SQL. Anything else is a 400, never a silently
ignored clause.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_
from sqlalchemy.orm import InstrumentedAttribute

from tileserver.catalog.tables import DatasetRow
from tileserver.errors import InvalidInput

FILTER_LANGS = ("cql2-text", "cql2-json")
MAX_DEPTH = 64
MAX_NODES = 256
"""Deepest nesting and most operators of a filter: deeper would exhaust the stack, more would
pass SQLite's expression depth limit (1000); both are far beyond a useful cloud-cover filter."""

# queryable name -> (column, JSON schema); ``properties.`` prefixes are accepted too.
QUERYABLES: dict[str, tuple[InstrumentedAttribute[Any], dict[str, Any]]] = {
    "eo:cloud_cover": (
        DatasetRow.cloud_cover,
        {
            "description": "Estimate of cloud cover, percent.",
            "type": "number",
            "minimum": 0,
            "maximum": 100,
        },
    ),
}

_COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": lambda c, v: c == v,
    "<>": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}
_FLIPPED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

_TOKEN = re.compile(
    r"\s*(?:(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<op><=|>=|<>|!=|=|<|>)"
    r"|(?P<paren>[()])"
    r"|(?P<quoted>\"[^\"]+\")"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_:.\-]*))"
)


def parse_filter(value: str | dict[str, Any], lang: str | None, default_lang: str) -> dict:
    """A filter in either language as a cql2-json tree (validated later by the compiler)."""
    lang = lang or default_lang
    if lang not in FILTER_LANGS:
        raise InvalidInput(f"filter-lang must be one of {', '.join(FILTER_LANGS)}.")
    if lang == "cql2-text":
        if not isinstance(value, str):
            raise InvalidInput("A cql2-text filter must be a string.")
        return _TextParser(value).parse()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise InvalidInput("A cql2-json filter must be a JSON object.") from None
    if not isinstance(value, dict):
        raise InvalidInput("A cql2-json filter must be a JSON object.")
    return value


def filter_clause(expr: Any) -> ColumnElement[bool]:
    """Compile a cql2-json tree into a SQL condition over the datasets table."""
    nodes, stack = 0, [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, dict) and isinstance(node.get("args"), list):
            nodes += 1
            stack.extend(node["args"])
        if nodes > MAX_NODES:
            raise InvalidInput(f"The filter has more than {MAX_NODES} operators.")
    return _clause(expr)


def _clause(expr: Any, depth: int = 0) -> ColumnElement[bool]:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"The filter is nested more than {MAX_DEPTH} levels deep.")
    if not isinstance(expr, dict) or "op" not in expr or not isinstance(expr.get("args"), list):
        raise InvalidInput(f"Unsupported filter expression: {json.dumps(expr)[:200]}.")
    op, args = str(expr["op"]).lower(), expr["args"]
    if op in ("and", "or"):
        if len(args) < 2:
            raise InvalidInput(f"'{op}' needs at least two arguments.")
        parts = [_clause(a, depth + 1) for a in args]
        return and_(*parts) if op == "and" else or_(*parts)
    if op == "not":
        if len(args) != 1:
            raise InvalidInput("'not' takes one argument.")
        return not_(_clause(args[0], depth + 1))
    if op == "isnull":
        if len(args) != 1:
            raise InvalidInput("'isNull' takes one argument.")
        return _column(args[0]).is_(None)
    if op == "!=":
        op = "<>"
    if op in _COMPARE:
        if len(args) != 2:
            raise InvalidInput(f"'{op}' takes two arguments.")
        left, right = args
        if _is_property(right) and not _is_property(left):
            left, right, op = right, left, _FLIPPED[op]
        return _COMPARE[op](_column(left), _number(right))
    raise InvalidInput(
        f"Unsupported filter operator '{expr['op']}'; supported: =, <>, <, <=, >, >=, "
        "isNull, and, or, not."
    )


def queryables_schema(schema_id: str) -> dict[str, Any]:
    """The JSON Schema of what ``filter`` may name (GET /stac/queryables)."""
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": schema_id,
        "type": "object",
        "title": "Queryables for cogsight item search",
        "properties": {name: schema for name, (_col, schema) in QUERYABLES.items()},
        "additionalProperties": False,
    }


def _is_property(arg: Any) -> bool:
    return isinstance(arg, dict) and "property" in arg


def _column(arg: Any) -> InstrumentedAttribute[Any]:
    if not _is_property(arg):
        raise InvalidInput("A filter comparison needs a property, e.g. eo:cloud_cover.")
    name = str(arg["property"]).removeprefix("properties.")
    if name not in QUERYABLES:
        known = ", ".join(QUERYABLES)
        raise InvalidInput(f"Cannot filter on '{arg['property']}'; queryables: {known}.")
    return QUERYABLES[name][0]


def _number(arg: Any) -> float:
    if isinstance(arg, bool) or not isinstance(arg, int | float):
        raise InvalidInput(f"eo:cloud_cover compares with a number, not {json.dumps(arg)}.")
    return float(arg)


class _TextParser:
    """Recursive descent over cql2-text: or_expr := and_expr (OR and_expr)*, and so on."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.depth = 0

    def parse(self) -> dict[str, Any]:
        if not self.tokens:
            raise InvalidInput("filter must not be empty.")
        expr = self._or()
        if self.pos != len(self.tokens):
            raise InvalidInput(f"Unexpected '{self.tokens[self.pos][1]}' in filter.")
        return expr

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.lastgroup is None:
                raise InvalidInput(f"Cannot parse filter near '{text[pos:].strip()[:20]}'.")
            tokens.append((match.lastgroup, match.group(match.lastgroup)))
            pos = match.end()
        return tokens

    def _peek_word(self, *words: str) -> bool:
        if self.pos >= len(self.tokens):
            return False
        kind, value = self.tokens[self.pos]
        return kind == "word" and value.upper() in words

    def _take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise InvalidInput("Filter ends unexpectedly.")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _or(self) -> dict[str, Any]:
        args = [self._and()]
        while self._peek_word("OR"):
            self.pos += 1
            args.append(self._and())
        return args[0] if len(args) == 1 else {"op": "or", "args": args}

    def _and(self) -> dict[str, Any]:
        args = [self._not()]
        while self._peek_word("AND"):
            self.pos += 1
            args.append(self._not())
        return args[0] if len(args) == 1 else {"op": "and", "args": args}

    def _nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidInput(f"The filter is nested more than {MAX_DEPTH} levels deep.")

    def _not(self) -> dict[str, Any]:
        if self._peek_word("NOT"):
            self.pos += 1
            self._nested()
            inner = self._not()
            self.depth -= 1
            return {"op": "not", "args": [inner]}
        return self._primary()

    def _primary(self) -> dict[str, Any]:
        if self.pos < len(self.tokens) and self.tokens[self.pos] == ("paren", "("):
            self.pos += 1
            self._nested()
            inner = self._or()
            self.depth -= 1
            if self._take() != ("paren", ")"):
                raise InvalidInput("Missing ')' in filter.")
            return inner
        left = self._operand()
        if self._peek_word("IS"):
            self.pos += 1
            negate = self._peek_word("NOT")
            self.pos += int(negate)
            if not self._peek_word("NULL"):
                raise InvalidInput("Expected NULL after IS in filter.")
            self.pos += 1
            is_null = {"op": "isNull", "args": [left]}
            return {"op": "not", "args": [is_null]} if negate else is_null
        kind, op = self._take()
        if kind != "op":
            raise InvalidInput(f"Expected a comparison operator, got '{op}'.")
        return {"op": op, "args": [left, self._operand()]}

    def _operand(self) -> Any:
        kind, value = self._take()
        if kind == "num":
            return float(value)
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "quoted":
            return {"property": value[1:-1]}
        if kind == "word" and value.upper() not in ("AND", "OR", "NOT", "IS", "NULL"):
            if value.upper() in ("TRUE", "FALSE"):
                return value.upper() == "TRUE"
            return {"property": value}
        raise InvalidInput(f"Unexpected '{value}' in filter.")
