"""The ``filter`` parameter: CQL2 (text or JSON) parsed by the ``cql2`` library, then bounded.

``cql2`` (Rust) parses cql2-text and cql2-json into one cql2-json tree; ``cql2sql`` compiles
that tree into SQL. Parsing is guarded first: the parser recurses natively, and thousands of
nested parentheses would overflow its stack and take the process down, not raise.
"""

from __future__ import annotations

import json
import re
from typing import Any

import cql2
from sqlalchemy import ColumnElement

from tileserver.errors import InvalidInput
from tileserver.stac.cql2sql import Compiler
from tileserver.stac.queryables import FilterContext, queryables_schema

FILTER_LANGS = ("cql2-text", "cql2-json")
MAX_DEPTH = 64
MAX_NODES = 256
"""Deepest nesting and most operators of a filter: deeper would exhaust the stack, more would
pass SQLite's expression depth limit (1000); both are far beyond a useful search."""
LITERAL_DEPTH = 4
"""Parentheses a cql2-text literal adds (``S_INTERSECTS(geometry, MULTIPOLYGON(((...))))``)."""

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_:.]*")

__all__ = ["FILTER_LANGS", "MAX_DEPTH", "MAX_NODES", "filter_clause", "parse_filter",
           "queryables_schema"]  # fmt: skip


def parse_filter(value: str | dict[str, Any], lang: str | None, default_lang: str) -> dict:
    """A filter in either language as a cql2-json tree within the depth and size limits."""
    lang = lang or default_lang
    if lang not in FILTER_LANGS:
        raise InvalidInput(f"filter-lang must be one of {', '.join(FILTER_LANGS)}.")
    if lang == "cql2-text":
        if not isinstance(value, str):
            raise InvalidInput("A cql2-text filter must be a string.")
        if not value.strip():
            raise InvalidInput("filter must not be empty.")
        _guard_text(value)
        try:
            tree = cql2.parse_text(value).to_json()
        except cql2.ParseError as exc:
            reason = _parse_message(exc)
            raise InvalidInput(f"Cannot parse the cql2-text filter: {reason}") from None
        except (ValueError, RecursionError):
            raise InvalidInput("Cannot parse the cql2-text filter.") from None
        check_limits(tree)
        return tree
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise InvalidInput("A cql2-json filter must be a JSON object.") from None
    if not isinstance(value, dict):
        raise InvalidInput("A cql2-json filter must be a JSON object.")
    check_limits(value)
    try:
        tree = cql2.parse_json(json.dumps(value)).to_json()
    except (cql2.ParseError, ValueError, RecursionError):
        raise InvalidInput("The filter is not CQL2 JSON (op and args).") from None
    return tree if isinstance(tree, dict) else value


def filter_clause(tree: Any, ctx: FilterContext) -> ColumnElement[bool]:
    """A parsed filter as one SQL condition over the datasets table."""
    return Compiler(ctx).clause(tree)


def check_limits(tree: Any) -> None:
    """At most ``MAX_NODES`` operators nested at most ``MAX_DEPTH`` deep (iteratively: a
    hostile tree must not be walked by recursion)."""
    nodes, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict) and isinstance(node.get("args"), list):
            nodes += 1
            if nodes > MAX_NODES:
                raise InvalidInput(f"The filter has more than {MAX_NODES} operators.")
            if depth > MAX_DEPTH:
                raise InvalidInput(f"The filter is nested more than {MAX_DEPTH} levels deep.")
            stack.extend((arg, depth + 1) for arg in node["args"])
        elif isinstance(node, list):
            if depth > MAX_DEPTH + LITERAL_DEPTH:
                raise InvalidInput(f"The filter is nested more than {MAX_DEPTH} levels deep.")
            stack.extend((item, depth + 1) for item in node)


def _guard_text(text: str) -> None:
    """Bound what the native parser will recurse into: parentheses (outside quotes) and
    ``NOT``s, which nest without parentheses."""
    depth = deepest = 0
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    if deepest > MAX_DEPTH + LITERAL_DEPTH:
        raise InvalidInput(f"The filter is nested more than {MAX_DEPTH} levels deep.")
    unquoted = re.sub(r"'(?:[^']|'')*'|\"[^\"]*\"", "''", text)
    words = _WORD.findall(unquoted)
    if sum(1 for w in words if w.upper() == "NOT") > MAX_DEPTH:
        raise InvalidInput(f"The filter is nested more than {MAX_DEPTH} levels deep.")
    if sum(1 for w in words if w.upper() in ("AND", "OR")) > MAX_NODES:
        raise InvalidInput(f"The filter has more than {MAX_NODES} operators.")


def _parse_message(exc: Exception) -> str:
    """pest's multi-line report as one line: where, and what was expected."""
    text = str(exc)
    where = re.search(r"-->\s*(\d+):(\d+)", text)
    expected = re.search(r"=\s*(.+)", text)
    parts = []
    if where:
        parts.append(f"at character {where.group(2)}")
    if expected:
        parts.append(expected.group(1).strip()[:160])
    return (", ".join(parts) or "syntax error") + "."
