"""Renderings a user saves on a dataset: named presets beside the computed ones.

They live in ``properties["saved_renders"]`` (name -> render), are listed by
``GET /datasets/{id}``, WMTS and TileJSON like every preset, and a saved ``default`` replaces
the rendering GIS clients get with no parameters. Each is checked against the dataset's bands
when it is saved, so a preset that cannot draw is a 400 then, not a broken layer later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from rio_tiler.colormap import cmap

from tileserver.catalog import DatasetRecord
from tileserver.errors import CogsightError, InvalidInput
from tileserver.expressions import to_band_expression
from tileserver.indices import INDICES
from tileserver.rendering.model import Render

SAVED_KEY = "saved_renders"
MAX_SAVED = 32
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
MAX_EXPRESSION = 1000


def saved_renders(properties: Mapping[str, Any]) -> dict[str, Render]:
    """The presets saved on a dataset (entries that no longer parse are skipped)."""
    stored = properties.get(SAVED_KEY)
    out: dict[str, Render] = {}
    if not isinstance(stored, Mapping):
        return out
    for name, value in stored.items():
        try:
            out[str(name)] = Render.model_validate(value)
        except ValidationError:
            continue
    return out


def check_render(record: DatasetRecord, name: str, render: Render) -> None:
    """Refuse a preset that cannot draw this dataset (400 naming what is wrong)."""
    count = len(record.band_names)
    where = f"Render '{name}'"
    bidx = render.bidx
    if bidx is not None and (not 1 <= len(bidx) <= 4 or any(not 1 <= b <= count for b in bidx)):
        raise InvalidInput(f"{where}: bidx takes 1-4 band numbers within 1-{count}.")
    chosen = sum(x is not None for x in (render.bidx, render.expression, render.index))
    if chosen > 1:
        raise InvalidInput(f"{where}: give one of bidx, expression or index.")
    if render.index is not None and render.index.upper() not in {i.name.upper() for i in INDICES}:
        raise InvalidInput(f"{where}: unknown index '{render.index[:40]}'.")
    if render.expression is not None:
        if len(render.expression) > MAX_EXPRESSION:
            raise InvalidInput(f"{where}: the expression is over {MAX_EXPRESSION} characters.")
        try:
            to_band_expression(render.expression, list(record.band_names), record.sensor)
        except CogsightError as exc:
            raise InvalidInput(f"{where}: {exc}") from None
        except (SyntaxError, ValueError):
            raise InvalidInput(f"{where}: the expression cannot be parsed.") from None
    if render.rescale is not None and not 1 <= len(render.rescale) <= max(count, 1):
        raise InvalidInput(f"{where}: rescale takes one min,max pair per band drawn.")
    if render.colormap_name is not None and render.colormap_name not in cmap.list():
        raise InvalidInput(f"{where}: unknown colormap '{render.colormap_name[:40]}'.")
    if render.algorithm is not None:
        from tileserver.elevation.process import build_algorithm  # the tilers' own check

        try:
            build_algorithm(render.algorithm, dict(render.algorithm_params or {}), tile=False)
        except CogsightError as exc:
            raise InvalidInput(f"{where}: {exc}") from None


def merged_saved(
    record: DatasetRecord, changes: Mapping[str, Render | None]
) -> dict[str, dict[str, Any]]:
    """The dataset's saved presets after ``changes`` (a ``None`` removes one), checked."""
    current = {
        k: v.model_dump(mode="json", exclude_none=True)
        for k, v in saved_renders(record.properties).items()
    }
    for name, render in changes.items():
        if render is None:
            current.pop(name, None)
            continue
        check_render(record, name, render)
        current[name] = render.model_dump(mode="json", exclude_none=True)
    if len(current) > MAX_SAVED:
        raise InvalidInput(f"A dataset keeps at most {MAX_SAVED} saved renders.")
    return current
