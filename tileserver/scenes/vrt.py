"""The GDAL VRT that stacks a scene's per-band assets in place, one VRT band per asset.

The grid is the item's finest resolution over the union of its assets (a 20 m SCL is read
onto the 10 m grid, nearest neighbour). With ``proj:shape`` / ``proj:transform`` / an EPSG code
on every asset nothing is opened: registration makes no network reads. Otherwise the asset
headers are opened (range reads of the first KiB). Hrefs are stored unsigned (``/vsicurl/``,
``/vsis3/``, or an absolute local path); signing happens at read time (``signing.py``).

GDAL's implicit overviews of a VRT (built from the sources' own overviews when every band is
a simple or complex source) serve low zooms without full-resolution reads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError

from tileserver.errors import InvalidInput
from tileserver.scenes.items import SceneBand, Transform

SCENE_MASK_TAG = "COGSIGHT_SCENE_MASK"  # "<mask kind>:<1-based band>"
SCENE_SOURCE_TAG = "COGSIGHT_SCENE_SOURCE"  # the STAC source id, for read-time signing
GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
    "float64": "Float64",
}
BLOCK = 512


@dataclass(frozen=True)
class BandGrid:
    """Where one asset lies: its size, transform and CRS, and its data type and nodata."""

    width: int
    height: int
    transform: Transform
    epsg: int
    dtype: str
    nodata: float | None


@dataclass(frozen=True)
class SceneGrid:
    """The VRT's grid: CRS, transform and size, and the common data type of its bands."""

    epsg: int
    transform: Transform
    width: int
    height: int
    dtype: str

    @property
    def resolution(self) -> float:
        return abs(self.transform[0])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        a, _, c, _, e, f = self.transform
        return (c, f + e * self.height, c + a * self.width, f)


def _http_status(message: str) -> str | None:
    match = re.search(r"\b(40[0-9]|5\d\d)\b", message)
    return match.group(1) if match else None


def open_header(band: SceneBand, path: str) -> BandGrid:
    """The asset's grid from its header (range reads of its first bytes)."""
    try:
        with rasterio.open(path) as src:
            if src.crs is None or src.crs.to_epsg() is None:
                raise InvalidInput(f"Asset '{band.key[:40]}' has no EPSG coordinate system.")
            t = src.transform
            return BandGrid(
                width=src.width,
                height=src.height,
                transform=(t.a, t.b, t.c, t.d, t.e, t.f),
                epsg=int(src.crs.to_epsg()),
                dtype=src.dtypes[0],
                nodata=src.nodata,
            )
    except RasterioIOError as exc:
        status = _http_status(str(exc))
        if status:
            raise InvalidInput(f"Asset '{band.key[:40]}' answered HTTP {status}.") from None
        raise InvalidInput(f"Asset '{band.key[:40]}' is not a readable raster.") from None


def band_grid(band: SceneBand) -> BandGrid | None:
    """The asset's grid from the item alone (``proj:*``), or None if the item lacks it."""
    if band.shape is None or band.transform is None or band.epsg is None:
        return None
    if band.transform[1] or band.transform[3]:
        return None  # a rotated grid: let GDAL read it from the header
    height, width = band.shape
    return BandGrid(
        width=width,
        height=height,
        transform=band.transform,
        epsg=band.epsg,
        dtype=(band.data_type or "uint16").lower(),
        nodata=band.nodata,
    )


def scene_grid(grids: list[BandGrid]) -> SceneGrid:
    """The finest resolution over the union of the assets; one CRS for all of them."""
    epsgs = {g.epsg for g in grids}
    if len(epsgs) > 1:
        raise InvalidInput("The item's band assets are in different coordinate systems.")
    res_x = min(abs(g.transform[0]) for g in grids)
    res_y = min(abs(g.transform[4]) for g in grids)
    lefts, rights, tops, bottoms = [], [], [], []
    for g in grids:
        a, _, c, _, e, f = g.transform
        lefts.append(min(c, c + a * g.width))
        rights.append(max(c, c + a * g.width))
        tops.append(max(f, f + e * g.height))
        bottoms.append(min(f, f + e * g.height))
    left, top = min(lefts), max(tops)
    width = max(1, round((max(rights) - left) / res_x))
    height = max(1, round((top - min(bottoms)) / res_y))
    try:
        dtype = str(np.result_type(*(np.dtype(g.dtype) for g in grids)))
    except TypeError:
        raise InvalidInput("The item's band data types are not supported.") from None
    if dtype not in GDAL_TYPES:
        raise InvalidInput(f"Band data type {dtype} is not supported.")
    return SceneGrid(
        epsg=epsgs.pop(),
        transform=(res_x, 0.0, left, 0.0, -res_y, top),
        width=width,
        height=height,
        dtype=dtype,
    )


def _fmt(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _band_xml(index: int, band: SceneBand, path: str, grid: BandGrid, scene: SceneGrid) -> str:
    a, _, c, _, e, f = grid.transform
    sa, _, sc, _, se, sf = scene.transform
    x_off = (c - sc) / sa
    y_off = (f - sf) / se
    x_size = grid.width * abs(a) / abs(sa)
    y_size = grid.height * abs(e) / abs(se)
    nodata = band.nodata if band.nodata is not None else grid.nodata
    nodata_xml = ""
    source_nodata = ""
    if nodata is not None and math.isfinite(nodata):
        nodata_xml = f"    <NoDataValue>{_fmt(nodata)}</NoDataValue>\n"
        source_nodata = f"      <NODATA>{_fmt(nodata)}</NODATA>\n"
    gdal_type = GDAL_TYPES[scene.dtype]
    return (
        f'  <VRTRasterBand dataType="{gdal_type}" band="{index}">\n'
        f"    <Description>{escape(band.name)}</Description>\n"
        f"{nodata_xml}"
        f'    <ComplexSource resampling="nearest">\n'
        f'      <SourceFilename relativeToVRT="0">{escape(path)}</SourceFilename>\n'
        f"      <SourceBand>1</SourceBand>\n"
        f'      <SourceProperties RasterXSize="{grid.width}" RasterYSize="{grid.height}" '
        f'DataType="{GDAL_TYPES.get(grid.dtype, gdal_type)}" BlockXSize="{BLOCK}" '
        f'BlockYSize="{BLOCK}"/>\n'
        f'      <SrcRect xOff="0" yOff="0" xSize="{grid.width}" ySize="{grid.height}"/>\n'
        f'      <DstRect xOff="{_fmt(x_off)}" yOff="{_fmt(y_off)}" xSize="{_fmt(x_size)}" '
        f'ySize="{_fmt(y_size)}"/>\n'
        f"{source_nodata}"
        f"    </ComplexSource>\n"
        f"  </VRTRasterBand>\n"
    )


def scene_vrt(
    bands: list[SceneBand],
    paths: list[str],
    grids: list[BandGrid],
    grid: SceneGrid,
    source: str | None = None,
) -> str:
    """The VRT XML: one band per asset (GDAL path ``paths[i]``), the mask band and the
    source named in the dataset metadata (the readers and the signer look for them)."""
    metadata = []
    for i, band in enumerate(bands, 1):
        if band.mask:
            metadata.append(f'    <MDI key="{SCENE_MASK_TAG}">{band.mask}:{i}</MDI>\n')
            break
    if source:
        metadata.append(f'    <MDI key="{SCENE_SOURCE_TAG}">{escape(source)}</MDI>\n')
    t = grid.transform
    geo = ", ".join(_fmt(v) for v in (t[2], t[0], t[1], t[5], t[3], t[4]))
    parts = [
        f'<VRTDataset rasterXSize="{grid.width}" rasterYSize="{grid.height}">\n',
        f'  <SRS dataAxisToSRSAxisMapping="1,2">EPSG:{grid.epsg}</SRS>\n',
        f"  <GeoTransform>{geo}</GeoTransform>\n",
    ]
    if metadata:
        parts.append("  <Metadata>\n" + "".join(metadata) + "  </Metadata>\n")
    for i, (band, path, band_grid_) in enumerate(zip(bands, paths, grids, strict=True), 1):
        parts.append(_band_xml(i, band, path, band_grid_, grid))
    parts.append("</VRTDataset>\n")
    return "".join(parts)


def source_paths(vrt_xml: str) -> list[str]:
    """The GDAL paths a scene VRT reads (for signing and per-path options)."""
    return [
        p.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        for p in re.findall(r"<SourceFilename[^>]*>([^<]*)</SourceFilename>", vrt_xml)
    ]


__all__ = [
    "SCENE_MASK_TAG",
    "SCENE_SOURCE_TAG",
    "BandGrid",
    "SceneGrid",
    "band_grid",
    "open_header",
    "scene_grid",
    "scene_vrt",
    "source_paths",
]
