"""A STAC item (a dict, as archives publish it) → the scene it describes: which assets are
bands, which are quality masks, their common names, hrefs, value scaling and grids.

Parsing uses pystac for the item's structure (id, geometry, datetime, assets) and reads the
``eo`` / ``raster`` / ``proj`` fields of each asset directly (item-level values are the
fallback, as the extensions specify). Nothing here touches the network.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import pystac

from tileserver.errors import InvalidInput
from tileserver.sensors import SensorPreset, canonical_band, preset_for_collection

Transform = tuple[float, float, float, float, float, float]
# assets that are never bands: previews, metadata, multi-band renderings, other encodings
NOT_BAND_ROLES = frozenset({"thumbnail", "overview", "metadata", "visual", "index"})
RASTER_TYPES = ("image/tiff", "image/vnd.stac.geotiff", "application/x-geotiff")
RASTER_SUFFIXES = (".tif", ".tiff")
MASK_KEYS = {"qa_pixel": "landsat-qa-pixel", "scl": "sentinel-2-scl"}
MAX_BANDS = 64


@dataclass(frozen=True)
class SceneBand:
    """One band asset: ``name`` is the band's common name in the dataset."""

    key: str
    name: str
    href: str
    data_type: str | None = None
    nodata: float | None = None
    scale: float | None = None
    offset: float | None = None
    shape: tuple[int, int] | None = None
    transform: Transform | None = None
    epsg: int | None = None
    mask: str | None = None  # "landsat-qa-pixel" / "sentinel-2-scl" for quality bands


@dataclass(frozen=True)
class Scene:
    """What registering an item needs: its bands, sensor preset and catalog facts."""

    item_id: str
    collection: str | None
    preset: SensorPreset
    datetime: dt.datetime | None
    cloud_cover: float | None
    bbox: tuple[float, float, float, float]
    geometry: dict[str, Any]
    bands: list[SceneBand]
    properties: dict[str, Any] = field(default_factory=dict)
    item_hash: str = ""

    @property
    def external_id(self) -> str:
        return f"{self.collection or '_'}/{self.item_id}"

    @property
    def mask_band(self) -> SceneBand | None:
        return next((b for b in self.bands if b.mask), None)

    @property
    def reflectance_bands(self) -> list[SceneBand]:
        return [b for b in self.bands if not b.mask]


def item_hash(item: dict[str, Any]) -> str:
    """A stable hash of the item JSON (keys sorted): unchanged items are skipped on re-runs."""
    text = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(float(value)) else None


def _is_raster(key: str, asset: pystac.Asset) -> bool:
    roles = set(asset.roles or [])
    if roles & NOT_BAND_ROLES and "data" not in roles:
        return False
    media = (asset.media_type or "").lower()
    if media and not media.startswith(RASTER_TYPES):
        return False
    if key.lower().endswith(("-jp2", "_jp2", "-cog-overview")) or key.lower() == "visual":
        return False
    bands = asset.extra_fields.get("raster:bands")
    if isinstance(bands, list) and len(bands) > 1:
        return False  # a multi-band asset (a true-colour rendering), not a band
    if media:
        return True
    return asset.href.split("?", 1)[0].lower().endswith(RASTER_SUFFIXES)


def _first(value: Any) -> dict[str, Any]:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def _shape(value: Any) -> tuple[int, int] | None:
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and v > 0 for v in value)
    ):
        return (value[0], value[1])
    return None


def _transform(value: Any) -> Transform | None:
    if isinstance(value, list) and len(value) in (6, 9):
        numbers = [_number(v) for v in value[:6]]
        if all(n is not None for n in numbers) and numbers[0] and numbers[4]:
            a, b, c, d, e, f = (float(n) for n in numbers if n is not None)
            return (a, b, c, d, e, f)
    return None


def _epsg(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.upper().startswith("EPSG:"):
        code = value.split(":", 1)[1]
        return int(code) if code.isdigit() else None
    return None


def _name(key: str, eo: dict[str, Any], preset: SensorPreset, taken: set[str]) -> str:
    """Asset key if the preset knows it, else the band id's common name, else ``eo:bands``'
    common name, else the key: ``rededge1``..``3`` share the common name ``rededge``."""
    for candidate in (
        canonical_band(preset, key),
        canonical_band(preset, str(eo.get("name") or "")),
        str(eo.get("common_name") or "").lower() or None,
        key.lower(),
    ):
        if candidate and candidate not in taken:
            return candidate
    return f"{key.lower()}_{len(taken) + 1}"


def parse_item(item: Any) -> Scene:
    """The scene of a STAC item dict; InvalidInput saying what is wrong with it otherwise."""
    if not isinstance(item, dict):
        raise InvalidInput("A STAC item must be a JSON object.")
    if item.get("type") != "Feature":
        raise InvalidInput("Not a STAC item: 'type' must be 'Feature'.")
    if not isinstance(item.get("id"), str) or not item["id"].strip():
        raise InvalidInput("The STAC item has no 'id'.")
    if not isinstance(item.get("assets"), dict) or not item["assets"]:
        raise InvalidInput("The STAC item has no assets.")
    try:
        parsed = pystac.Item.from_dict(item, preserve_dict=True, migrate=False)
    except Exception as exc:  # pystac raises KeyError / ValueError / STACError on bad items
        raise InvalidInput(f"Malformed STAC item: {type(exc).__name__}: {exc}"[:300]) from None
    item_id = parsed.id
    if len(item_id) > 200:
        raise InvalidInput("The STAC item id is longer than 200 characters.")
    geometry = parsed.geometry
    bbox = parsed.bbox
    if not geometry or not bbox or len(bbox) < 4:
        raise InvalidInput(f"Item '{item_id[:80]}' has no geometry or bbox.")
    if len(bbox) == 6:
        bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
    west, south, east, north = (float(v) for v in bbox[:4])
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidInput(f"Item '{item_id[:80]}' has a bbox outside WGS84 degrees.")

    collection = parsed.collection_id or item.get("collection")
    preset = preset_for_collection(collection)
    props = parsed.properties
    item_epsg = _epsg(props.get("proj:epsg")) or _epsg(props.get("proj:code"))
    item_shape = _shape(props.get("proj:shape"))
    item_transform = _transform(props.get("proj:transform"))

    bands: list[SceneBand] = []
    taken: set[str] = set()
    for key, asset in parsed.assets.items():
        if not _is_raster(key, asset):
            continue
        extra = asset.extra_fields
        eo = _first(extra.get("eo:bands"))
        raster = _first(extra.get("raster:bands"))
        known_mask = key.lower() in preset.masks or not preset.masks
        mask = MASK_KEYS.get(key.lower()) if known_mask else None
        name = key.lower() if mask else _name(key, eo, preset, taken)
        taken.add(name)
        href = asset.href
        if not isinstance(href, str) or not href.strip():
            raise InvalidInput(f"Asset '{key[:40]}' has no href.")
        bands.append(
            SceneBand(
                key=key,
                name=name,
                href=href.strip(),
                data_type=str(raster["data_type"]) if raster.get("data_type") else None,
                nodata=_number(raster.get("nodata")),
                scale=_number(raster.get("scale")),
                offset=_number(raster.get("offset")),
                shape=_shape(extra.get("proj:shape")) or item_shape,
                transform=_transform(extra.get("proj:transform")) or item_transform,
                epsg=_epsg(extra.get("proj:epsg")) or _epsg(extra.get("proj:code")) or item_epsg,
                mask=mask,
            )
        )
    if not bands:
        raise InvalidInput(f"Item '{item_id[:80]}' has no raster band assets (GeoTIFF / COG).")
    if len(bands) > MAX_BANDS:
        raise InvalidInput(f"Item '{item_id[:80]}' has more than {MAX_BANDS} band assets.")
    cloud = _number(props.get("eo:cloud_cover"))
    return Scene(
        item_id=item_id,
        collection=collection,
        preset=preset,
        datetime=parsed.datetime or parsed.common_metadata.start_datetime,
        cloud_cover=cloud if cloud is not None and 0 <= cloud <= 100 else None,
        bbox=(west, south, east, north),
        geometry=dict(geometry),
        bands=bands,
        properties=_kept_properties(props),
        item_hash=item_hash(item),
    )


KEPT_PREFIXES = (
    "platform",
    "constellation",
    "instruments",
    "gsd",
    "view:",
    "sat:",
    "s2:",
    "landsat:",
    "sar:",
    "mgrs:",
    "processing:",
    "eo:snow_cover",
)


def _kept_properties(props: dict[str, Any]) -> dict[str, Any]:
    """The item properties worth keeping on the dataset (platform, view angles, tile ids)."""
    return {k: v for k, v in props.items() if k.startswith(KEPT_PREFIXES)}
