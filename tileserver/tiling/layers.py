"""Band selection: ``bidx``, ``expression`` (band names or bN), ``index`` or a named rendering,
turned into what rio-tiler reads. Used by the tilers' request dependencies and by WMS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from titiler.core.dependencies import BidxExprParams, DefaultDependency

from tileserver.errors import InvalidInput, UnknownBand
from tileserver.expressions import BandSource, index_expression, to_band_expression
from tileserver.rendering import Render


@dataclass
class LayerQuery(DefaultDependency):
    """The query side of band selection: ``bidx``, ``expression`` (names or bN), ``index``."""

    indexes: Annotated[
        list[int] | None,
        Query(alias="bidx", title="Band indexes", description="1-based band indexes."),
    ] = None
    expression: Annotated[
        str | None,
        Query(
            description="Band math over band names or bN, e.g. (nir-red)/(nir+red); "
            "';' separates output bands."
        ),
    ] = None
    index: Annotated[
        str | None,
        Query(description="A named spectral index from GET /indices, e.g. NDVI."),
    ] = None
    render: Annotated[
        str | None,
        Query(
            description="A named rendering of this data (its `renders` in GET /datasets/{id}: "
            "default, true-color, false-color, ndvi ...). Without bands, images use 'default'."
        ),
    ] = None

    def __post_init__(self) -> None:
        given = [k for k in ("indexes", "expression", "index") if getattr(self, k)]
        if "index" in given and len(given) > 1:
            raise InvalidInput("Use either 'index', 'expression' or 'bidx', not several.")
        if self.render and given:
            raise InvalidInput("Use either 'render' or 'bidx' / 'expression' / 'index'.")


def resolve_layer(
    query: LayerQuery, source: BandSource, render: Render | None = None, one_band: bool = False
) -> BidxExprParams:
    """Turn names and named indices into what rio-tiler reads (``bidx`` / ``b1..bN``); a
    ``render`` (named, or the default of a request that chose no bands) picks them instead,
    only its first band under a colormap the request gives."""
    if render is not None and not (query.indexes or query.expression or query.index):
        bidx = render.bidx[:1] if one_band and render.bidx else render.bidx
        query = LayerQuery(indexes=bidx, expression=render.expression, index=render.index)
    names = list(source.band_names)
    if query.indexes:
        for i in query.indexes:
            if not 1 <= i <= len(names):
                raise UnknownBand(
                    f"Band index {i} does not exist: the data has {len(names)} band(s) "
                    f"({', '.join(names)})."
                )
    expression = query.expression
    if query.index:
        expression = index_expression(query.index, source)[1]
    elif expression:
        expression = to_band_expression(expression, names, source.sensor)
    return BidxExprParams(indexes=query.indexes, expression=expression)
