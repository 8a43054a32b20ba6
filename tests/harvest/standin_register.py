"""A stand-in for ``tileserver.scenes.register`` while that module is not in the tree: the
contract's ``register_items`` (batch, idempotent by source + external id, ``source_hash``
deciding unchanged / updated, refusals with reasons), writing plain dataset rows. It is
installed only when the real module is absent (``install_if_missing``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import types
import uuid
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select

from tileserver.catalog import Catalog
from tileserver.catalog.repository import utcnow
from tileserver.catalog.tables import DatasetRow
from tileserver.errors import CogsightError, ForbiddenSource, InvalidInput
from tileserver.settings import Settings
from tileserver.sources import check_remote_allowed, is_remote, local_path


class ItemOutcome(BaseModel):
    item_id: str
    status: Literal["added", "updated", "unchanged", "refused"]
    dataset_id: str | None = None
    reason: str | None = None


def _check(item: dict[str, Any], settings: Settings) -> list[str]:
    if not isinstance(item.get("id"), str) or not item["id"]:
        raise InvalidInput("the item has no id")
    if not isinstance(item.get("bbox"), list) or len(item["bbox"]) != 4:
        raise InvalidInput("the item has no bbox")
    assets = item.get("assets")
    if not isinstance(assets, dict):
        raise InvalidInput("the item has no assets")
    bands = [
        k
        for k, a in assets.items()
        if isinstance(a, dict) and "image/tiff" in str(a.get("type", "")) and "thumbnail" not in k
    ]
    if not bands:
        raise InvalidInput("the item has no raster (GeoTIFF) assets")
    for key in bands:
        href = str(assets[key].get("href", ""))
        if is_remote(href):
            check_remote_allowed(href, settings)
        else:
            try:
                local_path(href, settings)
            except CogsightError:
                raise ForbiddenSource(f"asset '{key}' is outside the allowed locations") from None
    return bands


def _when(item: dict[str, Any]) -> dt.datetime | None:
    text = (item.get("properties") or {}).get("datetime")
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def register_items(
    catalog: Catalog,
    settings: Settings,
    items: Iterable[dict[str, Any]],
    *,
    source: str | None = None,
    owner: str | None = None,
    visibility: str = "public",
    allow_local: bool = False,
) -> list[ItemOutcome]:
    outcomes: list[ItemOutcome] = []
    with catalog.session() as s:
        for item in items:
            item_id = str(item.get("id", ""))
            try:
                bands = _check(item, settings)
            except (InvalidInput, ForbiddenSource) as exc:
                outcomes.append(ItemOutcome(item_id=item_id, status="refused", reason=str(exc)))
                continue
            key = f"{item.get('collection')}/{item_id}"
            digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()
            row = s.scalars(
                select(DatasetRow).where(
                    DatasetRow.source.is_(None) if source is None else DatasetRow.source == source,
                    DatasetRow.external_id == key,
                )
            ).first()
            if row is not None and row.source_hash == digest:
                outcomes.append(ItemOutcome(item_id=item_id, status="unchanged", dataset_id=row.id))
                continue
            west, south, east, north = (float(v) for v in item["bbox"])
            values = dict(
                title=item_id,
                kind="raster",
                uri=json.dumps(item["assets"][bands[0]]["href"]),
                crs="EPSG:4326",
                west=west,
                south=south,
                east=east,
                north=north,
                footprint=item.get("geometry") or {},
                datetime=_when(item),
                sensor="generic",
                band_names=bands,
                dtype="uint16",
                width=1,
                height=1,
                resolution=1.0,
                minzoom=0,
                maxzoom=12,
                owner=owner,
                visibility=visibility,
                properties={"stac": item.get("properties", {})},
                collection=item.get("collection"),
                source=source,
                external_id=key,
                source_hash=digest,
            )
            if row is None:
                row = DatasetRow(id=uuid.uuid4().hex, created=utcnow(), **values)
                s.add(row)
                status: Literal["added", "updated"] = "added"
            else:
                for name, value in values.items():
                    setattr(row, name, value)
                status = "updated"
            outcomes.append(ItemOutcome(item_id=item_id, status=status, dataset_id=row.id))
    return outcomes


INSTALLED = False  # True when the stand-in replaces the missing module


def install_if_missing() -> None:
    global INSTALLED
    try:
        import tileserver.scenes.register  # noqa: F401
    except ImportError:
        INSTALLED = True
        package = types.ModuleType("tileserver.scenes")
        package.__path__ = []
        module = types.ModuleType("tileserver.scenes.register")
        module.register_items = register_items  # type: ignore[attr-defined]
        module.ItemOutcome = ItemOutcome  # type: ignore[attr-defined]
        sys.modules.setdefault("tileserver.scenes", package)
        sys.modules["tileserver.scenes.register"] = module
