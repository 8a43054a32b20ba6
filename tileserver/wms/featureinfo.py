"""GetFeatureInfo: the data values under one map pixel, per queried layer.

The pixel's centre (``I``/``J`` in 1.3.0, ``X``/``Y`` in 1.1.1) is placed in the map's CRS and
read with rio-tiler's ``point`` from the source file: the values are the data's own (every
band, before any rendering), not the drawn colours. A class raster (``classes`` in its
properties) also gets its class name. A pixel with no data answers no feature for that layer.
Formats: GeoJSON (``application/json``), ``text/plain``, ``text/html`` and GML 2
(``application/vnd.ogc.gml``).
"""

from __future__ import annotations

import html
import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rasterio.warp import transform
from rio_tiler.errors import NoAssetFoundError, PointOutsideBounds
from rio_tiler.models import PointData

from tileserver.catalog import DatasetRecord
from tileserver.mosaics.backend import open_mosaic
from tileserver.sources import gdal_path
from tileserver.tiling.reader import CatalogReader
from tileserver.wms.capabilities import xml_text
from tileserver.wms.layers import Layer
from tileserver.wms.params import FeatureInfoQuery
from tileserver.wms.render import Sources

GML_NS = "http://www.opengis.net/gml"
WFS_NS = "http://www.opengis.net/wfs"
COGSIGHT_NS = "urn:cogsight:wms"
RESERVED = ("layer", "title", "class")
for _prefix, _uri in (("gml", GML_NS), ("wfs", WFS_NS), ("cogsight", COGSIGHT_NS)):
    ET.register_namespace(_prefix, _uri)
Number = int | float | None


@dataclass(frozen=True)
class Values:
    """What one layer holds at the point: band name -> value, and the class name if any."""

    layer: Layer
    bands: dict[str, Number]
    class_name: str | None


def map_point(query: FeatureInfoQuery) -> tuple[float, float]:
    """The centre of pixel (i, j) of the map, in the map CRS (x, y)."""
    left, bottom, right, top = query.map.bbox
    x = left + (query.i + 0.5) * (right - left) / query.map.width
    y = top - (query.j + 0.5) * (top - bottom) / query.map.height
    return x, y


def _number(value: Any) -> Number:
    number = value.item() if hasattr(value, "item") else value
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return number  # type: ignore[no-any-return]


def _point(
    layer: Layer, x: float, y: float, query: FeatureInfoQuery, sources: Sources
) -> PointData | None:
    crs = query.map.crs.crs
    try:
        if isinstance(layer.source, DatasetRecord):
            with CatalogReader(gdal_path(layer.source.uri, sources.settings)) as src:
                return src.point(x, y, coord_crs=crs)
        with open_mosaic(layer.source, sources.records, sources.settings) as mosaic:
            for _asset, point in mosaic.point(x, y, coord_crs=crs):
                if not point.array.mask.all():
                    return point  # the scene the map shows: the first with data
            return None
    except (PointOutsideBounds, NoAssetFoundError):
        return None


def _class_name(layer: Layer, bands: dict[str, Number]) -> str | None:
    properties = getattr(layer.source, "properties", None) or {}
    classes = properties.get("classes")
    if not isinstance(classes, Mapping) or not bands:
        return None
    band = "class" if "class" in bands else next(iter(bands))
    value = bands[band]
    if value is None:
        return None
    info = classes.get(str(int(value))) if float(value).is_integer() else None
    name = info.get("name") if isinstance(info, Mapping) else None
    return str(name) if name is not None else None


def read_values(layer: Layer, query: FeatureInfoQuery, sources: Sources) -> Values | None:
    x, y = map_point(query)
    point = _point(layer, x, y, query, sources)
    if point is None or point.array.mask.all():
        return None
    names = list(layer.source.band_names)
    bands: dict[str, Number] = {}
    for n, (value, masked) in enumerate(
        zip(point.array.data, point.array.mask.reshape(-1), strict=False)
    ):
        name = names[n] if n < len(names) else f"b{n + 1}"
        bands[f"band_{name}" if name in RESERVED else name] = None if masked else _number(value)
    return Values(layer, bands, _class_name(layer, bands))


def _lonlat(query: FeatureInfoQuery) -> tuple[float, float]:
    x, y = map_point(query)
    (lon,), (lat,) = transform(query.map.crs.crs, "EPSG:4326", [x], [y])
    return lon, lat


def _properties(values: Values) -> dict[str, Any]:
    out: dict[str, Any] = {"layer": values.layer.name, "title": values.layer.title}
    out.update(values.bands)
    if values.class_name is not None:
        out["class"] = values.class_name
    return out


def as_json(found: list[Values], query: FeatureInfoQuery) -> bytes:
    lon, lat = _lonlat(query)
    features = [
        {
            "type": "Feature",
            "id": values.layer.name,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": _properties(values),
        }
        for values in found
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def as_text(found: list[Values], query: FeatureInfoQuery) -> bytes:
    if not found:
        return b"No data at this point.\n"
    lines = []
    for values in found:
        lines.append(f"Layer '{values.layer.name}' ({values.layer.title}):")
        lines += [f"  {name} = {value}" for name, value in values.bands.items()]
        if values.class_name is not None:
            lines.append(f"  class = {values.class_name}")
    return ("\n".join(lines) + "\n").encode()


def as_html(found: list[Values], query: FeatureInfoQuery) -> bytes:
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feature info</title>"]
    parts.append("</head><body>")
    if not found:
        parts.append("<p>No data at this point.</p>")
    for values in found:
        parts.append(f"<table><caption>{html.escape(values.layer.title)}</caption>")
        rows = [*values.bands.items()]
        if values.class_name is not None:
            rows.append(("class", values.class_name))  # type: ignore[arg-type]
        for name, value in rows:
            parts.append(f"<tr><th>{html.escape(name)}</th><td>{html.escape(str(value))}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts).encode()


def as_gml(found: list[Values], query: FeatureInfoQuery) -> bytes:
    """GML 2: one feature per layer, its values as ``band`` elements named by attribute."""
    lon, lat = _lonlat(query)
    root = ET.Element(f"{{{WFS_NS}}}FeatureCollection")
    for values in found:
        member = ET.SubElement(root, f"{{{GML_NS}}}featureMember")
        feature = ET.SubElement(
            member, f"{{{COGSIGHT_NS}}}value", {"fid": xml_text(values.layer.name)}
        )
        ET.SubElement(feature, f"{{{COGSIGHT_NS}}}layer").text = xml_text(values.layer.name)
        for name, value in values.bands.items():
            band = ET.SubElement(feature, f"{{{COGSIGHT_NS}}}band", {"name": xml_text(name)})
            band.text = "" if value is None else str(value)
        if values.class_name is not None:
            ET.SubElement(feature, f"{{{COGSIGHT_NS}}}class").text = xml_text(values.class_name)
        geometry = ET.SubElement(feature, f"{{{COGSIGHT_NS}}}geometry")
        point = ET.SubElement(geometry, f"{{{GML_NS}}}Point", {"srsName": "EPSG:4326"})
        ET.SubElement(point, f"{{{GML_NS}}}coordinates").text = f"{lon!r},{lat!r}"
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


WRITERS = {
    "application/json": as_json,
    "text/plain": as_text,
    "text/html": as_html,
    "application/vnd.ogc.gml": as_gml,
}


def feature_info(layers: list[Layer], query: FeatureInfoQuery, sources: Sources) -> bytes:
    found = [v for v in (read_values(layer, query, sources) for layer in layers) if v]
    return WRITERS[query.info_format](found, query)
