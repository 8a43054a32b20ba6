"""Post-processes by name: ``build_algorithm`` (a tile's ``?algorithm=`` / ``?encoding=`` or a
rendering's), ``render_algorithm`` (a rendering's own, for WMS) and ``parse_algorithm_params``.

The tilers' request dependency that picks one (``tileserver.http.post_process``) brings a preset's
algorithm with ``?render=hillshade``, MapLibre's height-encoded PNG with
``?encoding=terrarium|terrainrgb``, and reads a tile whose algorithm needs neighbouring pixels
with a 1-pixel buffer; unknown names are a 400 listing the choices.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from titiler.core.algorithm import BaseAlgorithm

from tileserver.elevation.algorithms import (
    ALGORITHMS,
)
from tileserver.errors import InvalidInput
from tileserver.rendering.model import Render

MAX_PARAMS = 2000


def parse_algorithm_params(text: str | None) -> dict[str, Any]:
    """``?algorithm_params=``: a JSON object of at most ``MAX_PARAMS`` characters (else a 400)."""
    if not text:
        return {}
    if len(text) > MAX_PARAMS:
        raise InvalidInput(f"'algorithm_params' is over {MAX_PARAMS} characters.")
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput("'algorithm_params' must be a JSON object.") from None
    if not isinstance(value, dict):
        raise InvalidInput("'algorithm_params' must be a JSON object.")
    return value


def build_algorithm(name: str, params: dict[str, Any], tile: bool) -> BaseAlgorithm:
    """The named algorithm with its parameters (a 400 naming the problem otherwise); on a tile,
    one that needs neighbours cuts off the 1-pixel buffer it is read with."""
    if name not in ALGORITHMS.data:
        raise InvalidInput(
            f"Unknown algorithm '{name[:40]}'; choose one of: {', '.join(ALGORITHMS.list())}."
        )
    cls = ALGORITHMS.get(name)
    if getattr(cls, "needs_neighbours", False):
        params = {**params, "buffer": 1 if tile else 0}
    try:
        return cls(**params)
    except (ValidationError, TypeError) as exc:
        raise InvalidInput(f"Bad 'algorithm_params' for '{name}': {exc}"[:500]) from None


def render_algorithm(render: Render) -> BaseAlgorithm | None:
    """A rendering's own post-process (a DEM preset's hillshade ...), for readers outside the
    tilers (WMS), which read no buffer: edge pixels use one-sided differences."""
    if not render.algorithm:
        return None
    return build_algorithm(render.algorithm, dict(render.algorithm_params or {}), tile=False)
