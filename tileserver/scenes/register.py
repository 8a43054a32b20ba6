"""Register STAC items as datasets: one scene VRT per item, one catalog row per scene.

The shared entry points (the item endpoint, ``cogsight add-item``, harvest, federated "add to
map") are ``register_item`` and ``register_items``. A batch is prepared item by item (parse,
allowed-prefix checks, grids from ``proj:*`` — no network reads when the item has them —, VRT
written atomically), then inserted / updated in one transaction. Idempotent by
``(source, external_id)``: an item whose hash is unchanged is skipped, a changed one gets a new
VRT and its row updated in place (same dataset id). Nothing is half-registered: a refused item
leaves no file, and the files of a batch whose transaction fails are removed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel
from sqlalchemy import Table, insert, select, update

from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.repository import new_id, utcnow
from tileserver.catalog.tables import DatasetRow
from tileserver.errors import CogsightError, ForbiddenSource, InvalidInput
from tileserver.rendering.choose import Traits, default_render
from tileserver.scenes.items import Scene, SceneBand, parse_item
from tileserver.scenes.vrt import BandGrid, band_grid, open_header, scene_grid, scene_vrt
from tileserver.settings import Settings
from tileserver.sources import check_remote_allowed

log = logging.getLogger(__name__)
SCENES_DIR = "scenes"
BATCH = 500
WRITERS = 4


class ItemOutcome(BaseModel):
    """What happened to one item of a batch."""

    item_id: str
    status: Literal["added", "updated", "unchanged", "refused"]
    dataset_id: str | None = None
    reason: str | None = None  # why refused: precise, no paths, no tokens


@dataclass
class _Prepared:
    """A scene ready to insert: its record and the VRT file written for it."""

    scene: Scene
    record: DatasetRecord
    vrt: Path
    xml: str
    existing: tuple[str, str | None, str] | None = None  # (id, source_hash, uri) if known


def _asset_path(band: SceneBand, settings: Settings, allow_local: bool) -> str:
    """The GDAL path of an asset href, after the same checks as a remote dataset's URI."""
    href = band.href
    if href.startswith(("s3://", "https://", "http://")):
        # the rule of sources.check_remote_allowed, its path parse skipped when no ".." can be
        # in the href (a harvest checks thousands of hrefs a second); it words the refusals
        if ".." in href or not href.startswith(tuple(settings.allowed_prefixes)):
            check_remote_allowed(href, settings)
        if href.startswith("s3://"):
            return "/vsis3/" + href[len("s3://") :]
        return "/vsicurl/" + href
    if href.startswith("file://"):
        href = href[len("file://") :]
    if "://" in href:
        raise InvalidInput(f"Asset '{band.key[:40]}' has an unsupported URL scheme.")
    if not allow_local:
        raise ForbiddenSource(
            "Asset hrefs must be https:// or s3:// URLs under an allowed prefix; local paths "
            "are accepted only from the command line."
        )
    path = Path(href)
    if not path.is_absolute():
        raise InvalidInput(f"Asset '{band.key[:40]}' has a relative href.")
    if not path.is_file():
        raise InvalidInput(f"Asset '{band.key[:40]}' is not a file on this machine.")
    return str(path.resolve())


@lru_cache(maxsize=4096)
def _zooms(resolution_m: float, width: int, height: int, lat: float) -> tuple[int, int]:
    """Web Mercator min / max zoom as rio-tiler reports them for the VRT, without opening it:
    the native resolution (stretched by Mercator at the scene's latitude), and that of the
    coarsest overview still over 256 px."""
    tms = _web_mercator()
    native = resolution_m / max(math.cos(math.radians(lat)), 0.01)
    levels, side = 0, float(max(width, height))
    while side / 2 >= 256:
        side /= 2
        levels += 1
    maxzoom = tms.zoom_for_res(native)
    return min(maxzoom, tms.zoom_for_res(native * 2**levels)), maxzoom


@lru_cache(maxsize=1)
def _web_mercator() -> Any:
    import morecantile

    return morecantile.tms.get("WebMercatorQuad")  # a deep copy per call: keep one


@lru_cache(maxsize=1024)
def _default_render(
    names: tuple[str, ...], dtype: str, sensor: str, scale: float | None
) -> dict[str, Any]:
    """The rendering decided from the bands alone (no pixels read), cached: a harvest's
    scenes share a handful of band layouts."""
    traits = Traits(
        band_names=list(names), dtype=dtype, sensor=sensor, reflectance_scale=scale, properties={}
    )
    return default_render(traits).model_dump(mode="json", exclude_none=True)


@lru_cache(maxsize=256)
def _metres_per_unit(epsg: int) -> float:
    from pyproj import CRS

    crs = CRS.from_epsg(epsg)
    return 111_320.0 if crs.is_geographic else float(crs.axis_info[0].unit_conversion_factor)


def _common(values: list[float | None]) -> float | None:
    known = {v for v in values if v is not None}
    return known.pop() if len(known) == 1 else None


def _record(
    scene: Scene,
    dataset_id: str,
    uri: str,
    grid_epsg: int,
    grid: Any,
    source: str | None,
    owner: str | None,
    visibility: str,
) -> DatasetRecord:
    names = [b.name for b in scene.bands]
    data = scene.reflectance_bands or scene.bands
    scale = _common([b.scale for b in data])
    offset = _common([b.offset for b in data]) if scale is not None else None
    if scale is None:
        scale, offset = scene.preset.reflectance_scale, scene.preset.reflectance_offset
    render = _default_render(tuple(names), grid.dtype, scene.preset.name, scale)
    metres = grid.resolution * _metres_per_unit(grid_epsg)
    lat = round((scene.bbox[1] + scene.bbox[3]) / 2, 1)  # rounded: the zooms are cached
    minzoom, maxzoom = _zooms(metres, grid.width, grid.height, lat)
    properties: dict[str, Any] = {
        **scene.properties,
        "render": render,  # shared by scenes of one layout: never changed in place
        "assets": {b.name: b.key for b in scene.bands},
    }
    if scene.mask_band is not None:
        properties["quality_band"] = scene.mask_band.name
    return DatasetRecord(
        id=dataset_id,
        title=scene.item_id,
        kind="raster",
        uri=uri,
        crs=f"EPSG:{grid_epsg}",
        bounds=scene.bbox,
        footprint=scene.geometry,
        datetime=scene.datetime,
        sensor=scene.preset.name,
        band_names=names,
        dtype=grid.dtype,
        nodata=_common([b.nodata for b in data]),
        width=grid.width,
        height=grid.height,
        resolution=grid.resolution,
        minzoom=minzoom,
        maxzoom=maxzoom,
        reflectance_scale=scale,
        reflectance_offset=offset,
        cloud_cover=scene.cloud_cover,
        owner=owner,
        visibility=visibility,  # type: ignore[arg-type]
        properties=properties,
        created=utcnow(),
        collection=scene.collection,
        source=source,
        external_id=scene.external_id,
        source_hash=scene.item_hash,
    )


def _write_atomic(path: Path, text: str) -> None:
    """Write a new VRT whole. Its name is new (dataset id + item hash) and no row names it
    until the write has finished, so no reader can see it partly written; a failed write
    removes it."""
    try:
        with open(path, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:  # the same item version written before by a run that then failed
        path.write_text(text, encoding="utf-8")
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _prepare(
    item: Any,
    settings: Settings,
    source: str | None,
    owner: str | None,
    visibility: str,
    allow_local: bool,
    existing: dict[str, tuple[str, str | None, str]],
) -> _Prepared | ItemOutcome:
    """Parse and check one item and write its VRT; an unchanged item's outcome instead."""
    scene = parse_item(item)
    known = existing.get(scene.external_id)
    if known is not None and known[1] == scene.item_hash:
        return ItemOutcome(item_id=scene.item_id, status="unchanged", dataset_id=known[0])
    paths = [_asset_path(b, settings, allow_local) for b in scene.bands]
    grids: list[BandGrid] = []
    for band, path in zip(scene.bands, paths, strict=True):
        grids.append(band_grid(band) or open_header(band, path))
    grid = scene_grid(grids)
    dataset_id = known[0] if known else new_id()
    suffix = scene.item_hash[:8]
    uri = f"{SCENES_DIR}/{dataset_id}.{suffix}.vrt"
    record = _record(scene, dataset_id, uri, grid.epsg, grid, source, owner, visibility)
    xml = scene_vrt(scene.bands, paths, grids, grid, source)
    vrt = settings.data_dir / uri
    return _Prepared(scene=scene, record=record, vrt=vrt, xml=xml, existing=known)


def _item_id(item: Any) -> str:
    value = item.get("id") if isinstance(item, dict) else None
    return str(value)[:200] if value is not None else "(no id)"


def _existing(
    catalog: Catalog, source: str | None, items: list[Any]
) -> dict[str, tuple[str, str | None, str]]:
    """Rows already registered for these items: external_id -> (id, source_hash, uri)."""
    keys = set()
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            keys.add(f"{item.get('collection') or '_'}/{item['id']}")
    if not keys:
        return {}
    owner_match = DatasetRow.source.is_(None) if source is None else DatasetRow.source == source
    stmt = select(
        DatasetRow.external_id, DatasetRow.id, DatasetRow.source_hash, DatasetRow.uri
    ).where(owner_match, DatasetRow.external_id.in_(keys))
    with catalog.session() as s:
        return {str(row[0]): (row[1], row[2], row[3]) for row in s.execute(stmt)}


def _row_values(record: DatasetRecord) -> dict[str, Any]:
    values = record.model_dump(exclude={"bounds"})
    values["west"], values["south"], values["east"], values["north"] = record.bounds
    return values


def _commit(catalog: Catalog, batch: list[_Prepared]) -> None:
    """Insert new scenes and update changed ones in one transaction."""
    new = [_row_values(p.record) for p in batch if p.existing is None]
    with catalog.write_session() as s:
        if new:  # Core executemany: the ORM's bulk path compiles names per row
            s.execute(insert(cast(Table, DatasetRow.__table__)), new)
        for p in batch:
            if p.existing is not None:
                values = _row_values(p.record)
                for keep in ("id", "created", "owner", "visibility"):
                    values.pop(keep)
                s.execute(update(DatasetRow).where(DatasetRow.id == p.record.id).values(values))


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _forget_replaced(settings: Settings, batch: list[_Prepared]) -> None:
    """The VRTs of updated scenes' previous versions (their rows now name the new ones)."""
    for p in batch:
        if p.existing is not None and p.existing[2] != p.record.uri:
            (settings.data_dir / p.existing[2]).unlink(missing_ok=True)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def register_items(
    catalog: Catalog,
    settings: Settings,
    items: Iterable[dict],
    *,
    source: str | None = None,
    owner: str | None = None,
    visibility: str = "public",
    allow_local: bool = False,
) -> list[ItemOutcome]:
    """Register many items, one transaction per batch of ``BATCH``; one outcome per item, in
    order. ``allow_local``: asset hrefs may be local files (the CLI, an admin on the machine);
    never from the API."""
    outcomes: list[ItemOutcome] = []
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for chunk in _chunks(items, BATCH):
            outcomes += _register_chunk(
                catalog, settings, chunk, pool, source, owner, visibility, allow_local
            )
    return outcomes


def _register_chunk(
    catalog: Catalog,
    settings: Settings,
    chunk: list[Any],
    pool: ThreadPoolExecutor,
    source: str | None,
    owner: str | None,
    visibility: str,
    allow_local: bool,
) -> list[ItemOutcome]:
    """One batch: each scene's VRT is written by the pool while the next item is prepared
    (file creation is I/O latency), then all rows go in one transaction; if anything fails
    before it commits, every VRT of the batch is removed."""
    existing = _existing(catalog, source, chunk)
    (settings.data_dir / SCENES_DIR).mkdir(parents=True, exist_ok=True)
    batch: list[_Prepared] = []
    writes: list[Future[None]] = []
    slots: list[ItemOutcome | _Prepared] = []
    seen: set[str] = set()
    try:
        for item in chunk:
            try:
                prepared = _prepare(
                    item, settings, source, owner, visibility, allow_local, existing
                )
            except (CogsightError, ValueError) as exc:  # pydantic's errors are ValueErrors
                slots.append(ItemOutcome(item_id=_item_id(item), status="refused", reason=str(exc)))
                continue
            if isinstance(prepared, _Prepared):
                if prepared.scene.external_id in seen:  # the same item twice in one batch
                    slots.append(
                        ItemOutcome(
                            item_id=prepared.scene.item_id,
                            status="refused",
                            reason="The same item appears twice in this batch.",
                        )
                    )
                    continue
                seen.add(prepared.scene.external_id)
                batch.append(prepared)
                writes.append(pool.submit(_write_atomic, prepared.vrt, prepared.xml))
            slots.append(prepared)
        for write in writes:
            write.result()
        _commit(catalog, batch)
    except BaseException:
        for write in writes:
            write.cancel()
        wait(writes)
        _remove(p.vrt for p in batch)
        raise
    _forget_replaced(settings, batch)
    outcomes: list[ItemOutcome] = []
    for slot in slots:
        if isinstance(slot, ItemOutcome):
            outcomes.append(slot)
        else:
            outcomes.append(
                ItemOutcome(
                    item_id=slot.scene.item_id,
                    status="updated" if slot.existing else "added",
                    dataset_id=slot.record.id,
                )
            )
    return outcomes


def register_item(
    catalog: Catalog,
    settings: Settings,
    item: dict,
    *,
    source: str | None = None,
    owner: str | None = None,
    visibility: str = "public",
    allow_local: bool = False,
) -> DatasetRecord:
    """Register one item and return its dataset (the existing one when unchanged); raises
    InvalidInput (a bad item, an unreadable asset) or ForbiddenSource (an asset outside the
    allowed prefixes). Nothing is left behind when it raises."""
    existing = _existing(catalog, source, [item])
    (settings.data_dir / SCENES_DIR).mkdir(parents=True, exist_ok=True)
    prepared = _prepare(item, settings, source, owner, visibility, allow_local, existing)
    if isinstance(prepared, ItemOutcome):
        assert prepared.dataset_id is not None
        return catalog.get_dataset(prepared.dataset_id)
    try:
        _write_atomic(prepared.vrt, prepared.xml)
        _commit(catalog, [prepared])
    except BaseException:
        prepared.vrt.unlink(missing_ok=True)
        raise
    _forget_replaced(settings, [prepared])
    return catalog.get_dataset(prepared.record.id)


__all__ = ["ItemOutcome", "register_item", "register_items"]
