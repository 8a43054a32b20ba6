"""A STAC item (a dict, as archives publish it) → the scene it describes: which assets are
bands, which are quality masks, their common names, hrefs, value scaling and grids.

The item dict is read directly (``pystac.Item.from_dict`` deep-copies every item: a harvest
registers thousands a second) with pystac's own datetime parsing; the ``eo`` / ``raster`` /
``proj`` fields of each asset win over item-level ones, as the extensions specify. Nothing here
touches the network.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
from pystac.utils import str_to_datetime

from tileserver.errors import InvalidInput
from tileserver.sensors import SENSORS, SensorPreset, preset_for_collection

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
    """A stable hash of the item JSON (keys sorted): unchanged items are skipped on re-runs.
    orjson is ten times json's speed, and a declared dependency, so every replica hashes an
    item alike."""
    try:
        data = orjson.dumps(item, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:  # orjson refuses what json accepts (integers beyond 64 bits)
        data = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(data).hexdigest()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(float(value)) else None


def _is_raster(key: str, asset: dict[str, Any]) -> bool:
    roles = set(asset.get("roles") or [])
    if roles & NOT_BAND_ROLES and "data" not in roles:
        return False
    media = str(asset.get("type") or "").lower()
    if media and not media.startswith(RASTER_TYPES):
        return False
    if key.lower().endswith(("-jp2", "_jp2", "-cog-overview")) or key.lower() == "visual":
        return False
    bands = asset.get("raster:bands")
    if isinstance(bands, list) and len(bands) > 1:
        return False  # a multi-band asset (a true-colour rendering), not a band
    if media:
        return True
    return str(asset.get("href") or "").split("?", 1)[0].lower().endswith(RASTER_SUFFIXES)


def _first(value: Any) -> dict[str, Any]:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def _shape(value: Any) -> tuple[int, int] | None:
    if type(value) is list and len(value) == 2:
        rows, cols = value
        if type(rows) is int and type(cols) is int and rows > 0 and cols > 0:
            return (rows, cols)
    return None


_REAL = (int, float)


def _transform(value: Any) -> Transform | None:
    if type(value) is list and len(value) in (6, 9):
        six = value[:6]
        if all(type(v) in _REAL for v in six) and all(math.isfinite(v) for v in six):
            a, b, c, d, e, f = (float(v) for v in six)
            if a and e:
                return (a, b, c, d, e, f)
    return None


def _epsg(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.upper().startswith("EPSG:"):
        code = value.split(":", 1)[1]
        return int(code) if code.isdigit() else None
    return None


@lru_cache(maxsize=64)
def _common_names(preset: str) -> dict[str, str]:
    """A preset's band ids and common names (lower case) -> the common name."""
    names: dict[str, str] = {}
    for name, aliases in SENSORS.get(preset).aliases.items():
        for alias in aliases:
            names.setdefault(alias.lower(), name)
    names.update({name: name for name in SENSORS.get(preset).aliases})
    return names


def _name(key: str, eo: dict[str, Any], preset: SensorPreset, taken: set[str]) -> str:
    """Asset key if the preset knows it, else the band id's common name, else ``eo:bands``'
    common name, else the key: ``rededge1``..``3`` share the common name ``rededge``."""
    known = _common_names(preset.name)
    for candidate in (
        known.get(key.lower()),
        known.get(str(eo.get("name") or "").lower()),
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
    item_id = item["id"]
    if len(item_id) > 200:
        raise InvalidInput("The STAC item id is longer than 200 characters.")
    geometry = item.get("geometry")
    if not isinstance(geometry, dict) or not isinstance(geometry.get("type"), str):
        raise InvalidInput(f"Item '{item_id[:80]}' has no GeoJSON geometry.")
    bbox = item.get("bbox")
    if not isinstance(bbox, list) or len(bbox) not in (4, 6):
        raise InvalidInput(f"Item '{item_id[:80]}' has no bbox of 4 or 6 numbers.")
    if len(bbox) == 6:
        bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
    numbers = [_number(v) for v in bbox]
    if any(v is None for v in numbers):
        raise InvalidInput(f"Item '{item_id[:80]}' has a bbox that is not numbers.")
    west, south, east, north = (float(v) for v in numbers if v is not None)
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidInput(f"Item '{item_id[:80]}' has a bbox outside WGS84 degrees.")
    props = item.get("properties")
    if not isinstance(props, dict):
        raise InvalidInput(f"Item '{item_id[:80]}' has no properties.")
    when = _datetime(item_id, props)

    collection = item.get("collection") if isinstance(item.get("collection"), str) else None
    preset = preset_for_collection(collection)
    item_epsg = _epsg(props.get("proj:epsg")) or _epsg(props.get("proj:code"))
    item_shape = _shape(props.get("proj:shape"))
    item_transform = _transform(props.get("proj:transform"))

    bands: list[SceneBand] = []
    taken: set[str] = set()
    for key, asset in item["assets"].items():
        if not isinstance(asset, dict):
            raise InvalidInput(f"Asset '{str(key)[:40]}' is not a JSON object.")
        if not _is_raster(key, asset):
            continue
        extra = asset
        eo = _first(extra.get("eo:bands"))
        raster = _first(extra.get("raster:bands"))
        known_mask = key.lower() in preset.masks or not preset.masks
        mask = MASK_KEYS.get(key.lower()) if known_mask else None
        name = key.lower() if mask else _name(key, eo, preset, taken)
        taken.add(name)
        href = asset.get("href")
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
        datetime=when,
        cloud_cover=cloud if cloud is not None and 0 <= cloud <= 100 else None,
        bbox=(west, south, east, north),
        geometry=dict(geometry),
        bands=bands,
        properties=_kept_properties(props),
        item_hash=item_hash(item),
    )


def _datetime(item_id: str, props: dict[str, Any]) -> dt.datetime | None:
    """``datetime``, else ``start_datetime`` (a null datetime needs a range, per STAC)."""
    value = props.get("datetime") or props.get("start_datetime")
    if value is None:
        return None
    try:
        parsed = str_to_datetime(str(value))
    except (ValueError, OverflowError):
        raise InvalidInput(f"Item '{item_id[:80]}' has an invalid datetime.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


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
