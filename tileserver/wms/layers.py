"""WMS layers over catalog records: names, styles, and who may see them.

A raster dataset is a group of layers: ``{id}`` draws its default rendering and offers every
preset as a style; ``{id}:{preset}`` draws one preset (for clients that pick layers more easily
than styles, GDAL's WMS driver among them). A mosaic is the same under ``mosaic:{id}``. Names
are parsed, not looked up in a list, so a GetMap on the whole catalog costs one record read per
layer. Invisible, unknown, vector and deleted data all answer the same ``LayerNotDefined``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tileserver.auth.access import can_read
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, DatasetRecord, MosaicRecord
from tileserver.catalog.schemas import DatasetQuery
from tileserver.errors import NotFoundError
from tileserver.rendering import Render, dataset_presets
from tileserver.rendering.records import DEFAULT
from tileserver.rendering.requests import mosaic_renders
from tileserver.tiling.records import RecordCache, first_scene
from tileserver.wms.crs import BBox, layer_codes, utm_codes
from tileserver.wms.errors import WMSError, clip

MOSAIC_PREFIX = "mosaic:"
SEPARATOR = ":"
Source = DatasetRecord | MosaicRecord


@dataclass(frozen=True)
class Scope:
    """What one endpoint serves: the whole catalog, one dataset, or one mosaic."""

    kind: Literal["catalog", "dataset", "mosaic"]
    ident: str | None = None


@dataclass(frozen=True)
class Layer:
    """A named layer: its source record and its styles (name -> rendering, default first)."""

    name: str
    title: str
    source: Source
    styles: dict[str, Render]

    @property
    def default_style(self) -> str:
        return next(iter(self.styles))

    def style(self, name: str) -> tuple[str, Render]:
        """The style ``name`` picks (empty or ``default``: the layer's first)."""
        wanted = name.strip().lower()
        if not wanted or wanted == DEFAULT:
            first = self.default_style
            return first, self.styles[first]
        for key, render in self.styles.items():
            if key == wanted:
                return key, render
        raise WMSError(
            f"Style '{clip(name)}' is not defined for layer '{clip(self.name)}': "
            f"{', '.join(self.styles)}.",
            "StyleNotDefined",
            "STYLES",
        )


@dataclass(frozen=True)
class Group:
    """A dataset or mosaic in the capabilities: its layers, WGS84 bounds and extra CRS codes."""

    title: str
    abstract: str
    bounds: BBox
    codes: list[str]
    layers: list[Layer] = field(default_factory=list)


def not_defined(name: str, status: int = 400) -> WMSError:
    return WMSError(f"Layer '{clip(name)}' is not defined.", "LayerNotDefined", "LAYERS", status)


def layer_name(source: Source, preset: str | None = None) -> str:
    base = f"{MOSAIC_PREFIX}{source.id}" if isinstance(source, MosaicRecord) else source.id
    return base if preset is None or preset == DEFAULT else f"{base}{SEPARATOR}{preset}"


def _layers(source: Source, renders: dict[str, Render]) -> list[Layer]:
    main = Layer(layer_name(source), source.title, source, dict(renders))
    presets = [
        Layer(
            layer_name(source, key),
            f"{source.title}: {render.title or key}",
            source,
            {key: render},
        )
        for key, render in renders.items()
        if key != DEFAULT
    ]
    return [main, *presets]


class Layers:
    """The layers one request may see (``principal`` under ``anonymous_read``)."""

    def __init__(
        self,
        catalog: Catalog,
        records: RecordCache,
        principal: Principal,
        anonymous_read: bool,
    ) -> None:
        self.catalog = catalog
        self.records = records
        self.principal = principal
        self.anonymous_read = anonymous_read

    def sees(self, source: Source) -> bool:
        return can_read(self.principal, source, self.anonymous_read)

    def renders(self, source: Source) -> dict[str, Render]:
        if isinstance(source, DatasetRecord):
            return dataset_presets(source)
        scene = first_scene(source, self.records)
        return mosaic_renders(source.band_names, source.sensor, source.reflectance_scale, scene)

    def dataset(self, ident: str) -> DatasetRecord | None:
        try:
            record = self.records.dataset(ident)
        except NotFoundError:
            return None
        return record if record.kind == "raster" and self.sees(record) else None

    def mosaic(self, ident: str) -> MosaicRecord | None:
        try:
            record = self.records.mosaic(ident)
        except NotFoundError:
            return None
        return record if self.sees(record) else None

    def check_scope(self, scope: Scope) -> None:
        """The endpoint's own dataset or mosaic must be visible: 404 as if it did not exist."""
        if scope.kind == "dataset" and self.dataset(scope.ident or "") is None:
            raise not_defined(scope.ident or "", status=404)
        if scope.kind == "mosaic" and self.mosaic(scope.ident or "") is None:
            raise not_defined(f"{MOSAIC_PREFIX}{scope.ident}", status=404)

    def layer(self, name: str, scope: Scope) -> Layer:
        """The layer ``name`` on this endpoint, or ``LayerNotDefined``."""
        is_mosaic = name.startswith(MOSAIC_PREFIX)
        ident, _, preset = name.removeprefix(MOSAIC_PREFIX).partition(SEPARATOR)
        wanted = "mosaic" if is_mosaic else "dataset"
        if scope.kind != "catalog" and (scope.kind != wanted or scope.ident != ident):
            raise not_defined(name)
        source: Source | None = self.mosaic(ident) if is_mosaic else self.dataset(ident)
        if source is None:
            raise not_defined(name)
        renders = self.renders(source)
        if not preset:
            return Layer(layer_name(source), source.title, source, renders)
        render = renders.get(preset)
        if render is None:
            raise not_defined(name)
        return Layer(name, f"{source.title}: {render.title}", source, {preset: render})

    def group(self, source: Source) -> Group:
        if isinstance(source, DatasetRecord):
            bands = ", ".join(source.band_names)
            when = f", {source.datetime:%Y-%m-%d}" if source.datetime else ""
            abstract = f"{source.sensor} raster{when}; bands: {bands}; dataset {source.id}."
            codes = layer_codes(source.crs, source.bounds)
        else:
            scenes = f"{len(source.dataset_ids)} scene(s)" if source.dataset_ids else "a query"
            abstract = f"Mosaic of {scenes}; mosaic {source.id}."
            codes = utm_codes(source.bounds)
        return Group(
            source.title, abstract, source.bounds, codes, _layers(source, self.renders(source))
        )

    def groups(self, scope: Scope) -> list[Group]:
        """Every group the endpoint lists, in catalog order (datasets, then mosaics)."""
        if scope.kind == "dataset":
            record = self.dataset(scope.ident or "")
            return [self.group(record)] if record else []
        if scope.kind == "mosaic":
            mosaic = self.mosaic(scope.ident or "")
            return [self.group(mosaic)] if mosaic else []
        datasets = self.catalog.find_datasets(DatasetQuery(kind="raster", limit=10_000))
        visible: list[Source] = [d for d in datasets if self.sees(d)]
        visible += [m for m in self.catalog.list_mosaics() if self.sees(m)]
        return [self.group(s) for s in visible]
