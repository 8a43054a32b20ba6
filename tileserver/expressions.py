"""Band-math expressions: validate them and rewrite band names into rio-tiler's ``bN`` form.

Clients write ``(nir - red) / (nir + red)`` or ``b4/b3``; both are checked against an allow-list
of numexpr syntax before anything reads a pixel, so a bad expression is a precise 400, never a
numexpr crash deep inside a tile request.
"""

from __future__ import annotations

import ast
import re
from typing import Protocol

from tileserver.errors import InvalidInput, UnknownBand
from tileserver.indices import INDICES, SpectralIndex
from tileserver.sensors import SENSORS

NUMEXPR_FUNCTIONS = frozenset(
    {
        "where",
        "sin",
        "cos",
        "tan",
        "arcsin",
        "arccos",
        "arctan",
        "arctan2",
        "sinh",
        "cosh",
        "tanh",
        "arcsinh",
        "arccosh",
        "arctanh",
        "log",
        "log10",
        "log1p",
        "exp",
        "expm1",
        "sqrt",
        "abs",
    }
)
_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.Mod,
    ast.USub,
    ast.UAdd,
    ast.Invert,
    ast.BitAnd,
    ast.BitOr,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Eq,
    ast.NotEq,
)
_BIDX = re.compile(r"^b(\d+)$")
MAX_EXPRESSION_LENGTH = 1000
MAX_CONSTANT_EXPONENT = 64
"""numexpr folds a power of two constants with Python numbers first: ``9**9**9`` would take
the server's CPU for hours, so such a power must be number ** number with a small exponent."""


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float)


def _is_constant(node: ast.AST) -> bool:
    """No band in the subtree (function names aside)."""
    functions = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return not any(isinstance(n, ast.Name) and id(n) not in functions for n in ast.walk(node))


def _check_power(node: ast.BinOp, text: str) -> None:
    if not (_is_constant(node.left) and _is_constant(node.right)):
        return
    exponent = ast.literal_eval(node.right) if _is_number(node.right) else None
    if not _is_number(node.left) or exponent is None or abs(exponent) > MAX_CONSTANT_EXPONENT:
        raise InvalidInput(
            f"Invalid expression '{text}': a power of constants must be a number raised to "
            f"at most {MAX_CONSTANT_EXPONENT}; write its value instead."
        )


def _parse(part: str) -> ast.Expression:
    if not part.strip():
        raise InvalidInput("Empty expression.")
    try:
        tree = ast.parse(part.strip(), mode="eval")
    except SyntaxError as exc:
        raise InvalidInput(f"Invalid expression '{part.strip()}': {exc.msg}.") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise InvalidInput(
                f"Invalid expression '{part.strip()}': '{type(node).__name__}' is not allowed."
            )
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise InvalidInput(f"Invalid expression '{part.strip()}': only numbers are allowed.")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            _check_power(node, part.strip())
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name) or node.func.id not in NUMEXPR_FUNCTIONS
        ):
            name = getattr(node.func, "id", "?")
            raise InvalidInput(
                f"Invalid expression: unknown function '{name}'. "
                f"Allowed: {', '.join(sorted(NUMEXPR_FUNCTIONS))}."
            )
    return tree


def split(expression: str) -> list[str]:
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise InvalidInput(f"Expression longer than {MAX_EXPRESSION_LENGTH} characters.")
    return [p for p in expression.split(";")]


def identifiers(expression: str) -> list[str]:
    """Band names an expression uses, in order of first use (function names excluded)."""
    names: list[str] = []
    for part in split(expression):
        tree = _parse(part)
        funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and id(node) not in funcs and node.id not in names:
                names.append(node.id)
    return names


def resolve_band(name: str, band_names: list[str], sensor: str | None) -> int:
    """1-based band index for a band name, a sensor alias, or ``bN``."""
    lowered = [b.lower() for b in band_names]
    if name.lower() in lowered:
        return lowered.index(name.lower()) + 1
    if match := _BIDX.match(name):
        index = int(match.group(1))
        if 1 <= index <= len(band_names):
            return index
        raise UnknownBand(
            f"Band '{name}' does not exist: the dataset has {len(band_names)} band(s) "
            f"({', '.join(band_names)})."
        )
    if sensor and sensor in SENSORS:
        for alias in SENSORS.get(sensor).aliases.get(name.lower(), []):
            if alias.lower() in lowered:
                return lowered.index(alias.lower()) + 1
    raise UnknownBand(
        f"Band '{name}' is not in this dataset (bands: {', '.join(band_names)}; "
        f"sensor: {sensor or 'generic'})."
    )


class _Rewrite(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, int], scale: float | None, offset: float | None):
        self.mapping = mapping
        self.scale = scale
        self.offset = offset
        self.functions: set[int] = set()

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.functions.add(id(node.func))
        node.args = [self.visit(a) for a in node.args]
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if id(node) in self.functions:
            return node
        new: ast.expr = ast.Name(id=f"b{self.mapping[node.id]}", ctx=ast.Load())
        if self.scale not in (None, 1.0):
            new = ast.BinOp(left=new, op=ast.Mult(), right=ast.Constant(self.scale))
        if self.offset not in (None, 0.0):
            new = ast.BinOp(left=new, op=ast.Add(), right=ast.Constant(self.offset))
        return new


def to_band_expression(
    expression: str,
    band_names: list[str],
    sensor: str | None = None,
    scale: float | None = None,
    offset: float | None = None,
) -> str:
    """Rewrite an expression over names into rio-tiler's ``b1..bN`` syntax.

    With ``scale``/``offset`` every band becomes ``(bN * scale + offset)``, i.e. reflectance,
    which indices with constants (EVI, SAVI) need.
    """
    parts = []
    for part in split(expression):
        tree = _parse(part)
        names = identifiers(part)
        mapping = {n: resolve_band(n, band_names, sensor) for n in names}
        rewritten = _Rewrite(mapping, scale, offset).visit(tree)
        parts.append(ast.unparse(ast.fix_missing_locations(rewritten)))
    return ";".join(parts)


class BandSource(Protocol):
    """What band resolution needs from a dataset or a mosaic."""

    @property
    def band_names(self) -> list[str]: ...
    @property
    def sensor(self) -> str | None: ...
    @property
    def reflectance_scale(self) -> float | None: ...
    @property
    def reflectance_offset(self) -> float | None: ...


def index_expression(name: str, source: BandSource) -> tuple[SpectralIndex, str]:
    """A named index and its formula over ``source``'s bands as ``bN``, with the source's
    reflectance scale and offset applied (the formulas' constants assume reflectance)."""
    spectral = INDICES.get(name)
    expression = to_band_expression(
        spectral.formula,
        list(source.band_names),
        source.sensor,
        source.reflectance_scale,
        source.reflectance_offset,
    )
    return spectral, expression
