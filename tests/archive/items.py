"""Earth Search-like STAC items for the fake archive's files (``tests/archive/assets.py``).

The layouts copy Earth Search v1's ``sentinel-2-l2a`` and ``landsat-c2-l2`` items: asset keys
(blue, green, red, nir, ..., scl / qa_pixel, thumbnail), ``eo:bands``, ``raster:bands`` with
scale / offset / nodata, ``proj:epsg`` on the item and ``proj:shape`` / ``proj:transform`` per
asset, ``eo:cloud_cover``. ``href`` turns a local file into what the item names (an HTTP or S3
URL of the served copy, or the path itself).

    files = landsat_band_cogs(tmp)
    item = landsat_item(files, href=lambda p: archive.href(p))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import rasterio
from rasterio.warp import transform_bounds, transform_geom

Href = Callable[[Path], str]

STAC_EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
]

# Earth Search v1 sentinel-2-l2a: asset key -> (band id, common name, centre µm, resolution m)
S2_BANDS: dict[str, tuple[str, str, float, int]] = {
    "coastal": ("B01", "coastal", 0.443, 60),
    "blue": ("B02", "blue", 0.490, 10),
    "green": ("B03", "green", 0.560, 10),
    "red": ("B04", "red", 0.665, 10),
    "rededge1": ("B05", "rededge", 0.704, 20),
    "rededge2": ("B06", "rededge", 0.740, 20),
    "rededge3": ("B07", "rededge", 0.783, 20),
    "nir": ("B08", "nir", 0.842, 10),
    "nir08": ("B8A", "nir08", 0.865, 20),
    "nir09": ("B09", "nir09", 0.945, 60),
    "swir16": ("B11", "swir16", 1.610, 20),
    "swir22": ("B12", "swir22", 2.190, 20),
}
# Earth Search v1 landsat-c2-l2: asset key -> (USGS band, common name, centre µm)
LANDSAT_BANDS: dict[str, tuple[str, str, float]] = {
    "coastal": ("SR_B1", "coastal", 0.44),
    "blue": ("SR_B2", "blue", 0.48),
    "green": ("SR_B3", "green", 0.56),
    "red": ("SR_B4", "red", 0.65),
    "nir08": ("SR_B5", "nir08", 0.86),
    "swir16": ("SR_B6", "swir16", 1.6),
    "swir22": ("SR_B7", "swir22", 2.2),
}


def _proj(path: Path) -> dict[str, Any]:
    """``proj:*`` fields and facts of one file (read locally, as the archive's publisher did)."""
    with rasterio.open(path) as src:
        t = src.transform
        return {
            "epsg": src.crs.to_epsg(),
            "shape": [src.height, src.width],
            "transform": [t.a, t.b, t.c, t.d, t.e, t.f],
            "bounds": tuple(src.bounds),
            "crs": src.crs,
            "dtype": src.dtypes[0],
            "res": abs(t.a),
        }


def _geometry(path: Path) -> tuple[dict[str, Any], list[float]]:
    facts = _proj(path)
    left, bottom, right, top = facts["bounds"]
    ring = [[left, bottom], [right, bottom], [right, top], [left, top], [left, bottom]]
    geom = transform_geom(facts["crs"], "EPSG:4326", {"type": "Polygon", "coordinates": [ring]})
    bbox = list(transform_bounds(facts["crs"], "EPSG:4326", left, bottom, right, top))
    return dict(geom), bbox


def _asset(path: Path, href: Href, with_proj: bool, **fields: Any) -> dict[str, Any]:
    asset: dict[str, Any] = {"href": href(path), "type": "image/tiff; application=geotiff"}
    asset.update(fields)
    if with_proj:
        facts = _proj(path)
        asset["proj:shape"] = facts["shape"]
        asset["proj:transform"] = facts["transform"]
    return asset


def _item(
    collection: str,
    item_id: str,
    first: Path,
    when: dt.datetime,
    properties: Mapping[str, Any],
    assets: dict[str, Any],
    base: str | None,
) -> dict[str, Any]:
    geometry, bbox = _geometry(first)
    links = []
    if base:
        links = [
            {"rel": "self", "href": f"{base}/collections/{collection}/items/{item_id}"},
            {"rel": "collection", "href": f"{base}/collections/{collection}"},
        ]
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": list(STAC_EXTENSIONS),
        "id": item_id,
        "collection": collection,
        "geometry": geometry,
        "bbox": bbox,
        "properties": {
            "datetime": when.isoformat().replace("+00:00", "Z"),
            "proj:epsg": _proj(first)["epsg"],
            **properties,
        },
        "links": links,
        "assets": assets,
    }


def landsat_item(
    files: Mapping[str, Path],
    href: Href,
    item_id: str = "LC08_L2SP_008059_20191201_02_T1",
    when: dt.datetime = dt.datetime(2019, 12, 1, 15, 13, 51, tzinfo=dt.UTC),
    cloud_cover: float = 81.02,
    with_proj: bool = True,
    base: str | None = None,
) -> dict[str, Any]:
    """An Earth Search ``landsat-c2-l2`` item over ``files`` ({asset key: path}): SR bands with
    scale 2.75e-5, offset -0.2, nodata 0; ``qa_pixel`` (bit flags, nodata 1); a thumbnail and
    the MTL as non-raster assets."""
    assets: dict[str, Any] = {}
    for key, path in files.items():
        if key == "qa_pixel":
            assets[key] = _asset(
                path,
                href,
                with_proj,
                title="Pixel Quality Assessment Band (QA_PIXEL)",
                roles=["cloud", "cloud-shadow", "snow-ice", "water-mask"],
                **{
                    "raster:bands": [
                        {
                            "data_type": "uint16",
                            "nodata": 1,
                            "spatial_resolution": 30,
                            "unit": "bit index",
                        }
                    ]
                },
            )
            continue
        band, common, centre = LANDSAT_BANDS[key]
        assets[key] = _asset(
            path,
            href,
            with_proj,
            title=f"{common.title()} Band ({band})",
            roles=["data", "reflectance"],
            **{
                "eo:bands": [{"name": band, "common_name": common, "center_wavelength": centre}],
                "raster:bands": [
                    {
                        "data_type": "uint16",
                        "nodata": 0,
                        "spatial_resolution": 30,
                        "scale": 2.75e-05,
                        "offset": -0.2,
                        "unit": "none",
                    }
                ],
            },
        )
    first = next(iter(files.values()))
    assets["thumbnail"] = {
        "href": href(first).rsplit("/", 1)[0] + f"/{item_id}_thumb_small.jpeg",
        "type": "image/jpeg",
        "roles": ["thumbnail"],
    }
    assets["mtl.json"] = {
        "href": href(first).rsplit("/", 1)[0] + f"/{item_id}_MTL.json",
        "type": "application/json",
        "roles": ["metadata"],
    }
    properties = {
        "platform": "landsat-8",
        "instruments": ["oli", "tirs"],
        "eo:cloud_cover": cloud_cover,
        "landsat:wrs_path": "008",
        "landsat:wrs_row": "059",
        "landsat:collection_category": "T1",
        "landsat:correction": "L2SP",
    }
    return _item("landsat-c2-l2", item_id, first, when, properties, assets, base)


def sentinel2_item(
    files: Mapping[str, Path],
    href: Href,
    item_id: str = "S2B_33UUP_20210617_0_L2A",
    when: dt.datetime = dt.datetime(2021, 6, 17, 10, 5, 59, tzinfo=dt.UTC),
    cloud_cover: float = 12.5,
    processing_baseline: str = "03.00",
    with_proj: bool = True,
    base: str | None = None,
) -> dict[str, Any]:
    """An Earth Search ``sentinel-2-l2a`` item over ``files``: reflectance bands with scale
    1e-4 (offset -0.1 from processing baseline 04.00 on, 0 before), nodata 0; ``scl`` (uint8
    classes, nodata 0); a thumbnail and the tileinfo metadata as non-raster assets."""
    offset = -0.1 if processing_baseline >= "04.00" else 0.0
    assets: dict[str, Any] = {}
    for key, path in files.items():
        if key == "scl":
            assets[key] = _asset(
                path,
                href,
                with_proj,
                title="Scene classification map (SCL)",
                roles=["data", "reflectance"],
                **{"raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}]},
            )
            continue
        band, common, centre, res = S2_BANDS[key]
        assets[key] = _asset(
            path,
            href,
            with_proj,
            title=f"{common.title()} ({band}) - {res}m",
            roles=["data", "reflectance"],
            gsd=res,
            **{
                "eo:bands": [
                    {
                        "name": key if key != "nir" else "nir",
                        "common_name": common,
                        "center_wavelength": centre,
                    }
                ],
                "raster:bands": [
                    {
                        "nodata": 0,
                        "data_type": "uint16",
                        "bits_per_sample": 15,
                        "spatial_resolution": res,
                        "scale": 0.0001,
                        "offset": offset,
                    }
                ],
            },
        )
    first = next(iter(files.values()))
    folder = href(first).rsplit("/", 1)[0]
    assets["thumbnail"] = {
        "href": f"{folder}/thumbnail.jpg",
        "type": "image/jpeg",
        "roles": ["thumbnail"],
    }
    assets["tileinfo_metadata"] = {
        "href": f"{folder}/tileinfo_metadata.json",
        "type": "application/json",
        "roles": ["metadata"],
    }
    properties = {
        "platform": "sentinel-2b",
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": cloud_cover,
        "s2:processing_baseline": processing_baseline,
        "mgrs:utm_zone": 33,
        "mgrs:latitude_band": "U",
        "mgrs:grid_square": "UP",
    }
    return _item("sentinel-2-l2a", item_id, first, when, properties, assets, base)


def item_for(
    collection: str,
    files: Mapping[str, Path],
    href: Href,
    item_id: str,
    when: dt.datetime,
    cloud_cover: float = 0.0,
    with_proj: bool = True,
    base: str | None = None,
) -> dict[str, Any]:
    """An item of either layout (``sentinel-2-l2a`` / ``landsat-c2-l2``) over ``files``."""
    make = sentinel2_item if collection == "sentinel-2-l2a" else landsat_item
    return make(
        files,
        href,
        item_id=item_id,
        when=when,
        cloud_cover=cloud_cover,
        with_proj=with_proj,
        base=base,
    )
