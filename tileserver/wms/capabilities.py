"""GetCapabilities documents, WMS 1.1.1 (``WMT_MS_Capabilities``) and 1.3.0 (``WMS_Capabilities``).

One root layer carries the CRS list every layer inherits (EPSG:4326, EPSG:3857, and CRS:84 in
1.3.0); each dataset or mosaic is an unnamed group (its title, its own CRS and UTM zones, its
bounding boxes) holding its named layers (``{id}`` with every preset as a style, then
``{id}:{preset}``). Bounding boxes in 1.3.0 follow each CRS's axis order (EPSG:4326 latitude
first). Every URL is the endpoint's own, carrying the caller's ``access_token`` (encoded) when
the request had one, so a client that only knows the capabilities URL keeps its access.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from tileserver.tiling.limits import MAX_IMAGE_SIDE
from tileserver.wms.crs import CRS84, SERVICE_CODES, WGS84, BBox, wgs84_bounds_in
from tileserver.wms.errors import V111, V130, XSI_NS
from tileserver.wms.layers import Group, Layer
from tileserver.wms.legend import legend_size, legend_spec
from tileserver.wms.params import (
    CAPABILITIES_FORMATS,
    INFO_FORMATS,
    MAP_FORMATS,
    MAX_LAYERS,
    Version,
)

WMS_NS = "http://www.opengis.net/wms"
XLINK_NS = "http://www.w3.org/1999/xlink"
SLD_NS = "http://www.opengis.net/sld"
EXCEPTION_FORMATS = {
    V111: (
        "application/vnd.ogc.se_xml",
        "application/vnd.ogc.se_inimage",
        "application/vnd.ogc.se_blank",
    ),
    V130: ("XML", "INIMAGE", "BLANK"),
}
for _prefix, _uri in (("xlink", XLINK_NS), ("sld", SLD_NS)):
    ET.register_namespace(_prefix, _uri)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    """Text XML 1.0 can hold (an uploaded title may carry control characters)."""
    return _NOT_XML.sub("", value)


def _num(value: float) -> str:
    return format(value, ".12g")


class _Writer:
    """Builds one document (1.3.0's namespace is declared on the root, names stay bare)."""

    def __init__(self, version: Version, resource: str, title: str) -> None:
        self.version = version
        self.resource = resource
        self.title = title

    def tag(self, name: str) -> str:
        return name

    def sub(
        self, parent: ET.Element, name: str, text: str | None = None, **attrs: str
    ) -> ET.Element:
        element = ET.SubElement(parent, self.tag(name), attrs)
        if text is not None:
            element.text = xml_text(text)
        return element

    def link(self, parent: ET.Element, name: str, href: str) -> ET.Element:
        attrs = {f"{{{XLINK_NS}}}type": "simple", f"{{{XLINK_NS}}}href": href}
        return ET.SubElement(parent, self.tag(name), attrs)

    def operation(
        self, parent: ET.Element, name: str, formats: tuple[str, ...] | list[str]
    ) -> None:
        tag = f"{{{SLD_NS}}}{name}" if name == "GetLegendGraphic" and self.version == V130 else None
        element = ET.SubElement(parent, tag or self.tag(name))
        for fmt in formats:
            self.sub(element, "Format", fmt)
        http = self.sub(self.sub(element, "DCPType"), "HTTP")
        self.link(self.sub(http, "Get"), "OnlineResource", self.resource)

    def service(self, root: ET.Element) -> None:
        service = self.sub(root, "Service")
        self.sub(service, "Name", "WMS" if self.version == V130 else "OGC:WMS")
        self.sub(service, "Title", self.title)
        self.sub(
            service,
            "Abstract",
            "Rasters and mosaics of the cogsight catalog, drawn in their stored default "
            "rendering; presets are styles and layers of their own.",
        )
        self.link(service, "OnlineResource", self.resource)
        self.sub(service, "Fees", "none")
        self.sub(service, "AccessConstraints", "none")
        if self.version == V130:
            self.sub(service, "LayerLimit", str(MAX_LAYERS))
            self.sub(service, "MaxWidth", str(MAX_IMAGE_SIDE))
            self.sub(service, "MaxHeight", str(MAX_IMAGE_SIDE))

    def requests(self, capability: ET.Element) -> None:
        request = self.sub(capability, "Request")
        self.operation(request, "GetCapabilities", [CAPABILITIES_FORMATS[self.version]])
        self.operation(request, "GetMap", list(MAP_FORMATS))
        self.operation(request, "GetFeatureInfo", list(INFO_FORMATS))
        self.operation(request, "GetLegendGraphic", ["image/png"])
        exception = self.sub(capability, "Exception")
        for fmt in EXCEPTION_FORMATS[self.version]:
            self.sub(exception, "Format", fmt)

    def crs_list(self, layer: ET.Element, codes: list[str] | tuple[str, ...]) -> None:
        for code in codes:
            if code == CRS84 and self.version == V111:
                continue
            self.sub(layer, "CRS" if self.version == V130 else "SRS", code)

    def bounds(self, layer: ET.Element, bounds: BBox, codes: list[str] | tuple[str, ...]) -> None:
        """The geographic box, then a BoundingBox per CRS (in its units and axis order)."""
        west, south, east, north = bounds
        if self.version == V130:
            geo = self.sub(layer, "EX_GeographicBoundingBox")
            for name, value in (
                ("westBoundLongitude", west),
                ("eastBoundLongitude", east),
                ("southBoundLatitude", south),
                ("northBoundLatitude", north),
            ):
                self.sub(geo, name, _num(value))
        else:
            self.sub(
                layer,
                "LatLonBoundingBox",
                minx=_num(west),
                miny=_num(south),
                maxx=_num(east),
                maxy=_num(north),
            )
        for code in codes:
            if code == CRS84 and self.version == V111:
                continue
            box = wgs84_bounds_in(code, bounds, self.version)
            if box is None:
                continue
            minx, miny, maxx, maxy = (_num(v) for v in box)
            key = "CRS" if self.version == V130 else "SRS"
            self.sub(
                layer, "BoundingBox", **{key: code}, minx=minx, miny=miny, maxx=maxx, maxy=maxy
            )

    def legend_url(self, layer: Layer, style: str) -> str:
        query = {
            "SERVICE": "WMS",
            "REQUEST": "GetLegendGraphic",
            "VERSION": self.version,
            "FORMAT": "image/png",
            "LAYER": layer.name,
            "STYLE": style,
        }
        if self.version == V130:
            query["SLD_VERSION"] = "1.1.0"
        return self.resource + urlencode(query)

    def named_layer(self, parent: ET.Element, layer: Layer, bounds: BBox) -> None:
        element = self.sub(parent, "Layer", queryable="1", opaque="0")
        self.sub(element, "Name", layer.name)
        self.sub(element, "Title", layer.title)
        self.bounds(element, bounds, ())  # the geographic box again: some clients do not inherit it
        for name, render in layer.styles.items():
            style = self.sub(element, "Style")
            self.sub(style, "Name", name)
            self.sub(style, "Title", render.title or name)
            width, height = legend_size(legend_spec(render, layer.source))
            legend = self.sub(style, "LegendURL", width=str(width), height=str(height))
            self.sub(legend, "Format", "image/png")
            self.link(legend, "OnlineResource", self.legend_url(layer, name))

    def group(self, parent: ET.Element, group: Group) -> None:
        element = self.sub(parent, "Layer")
        self.sub(element, "Title", group.title)
        self.sub(element, "Abstract", group.abstract)
        self.crs_list(element, group.codes)
        self.bounds(element, group.bounds, [*SERVICE_CODES, *group.codes])
        for layer in group.layers:
            self.named_layer(element, layer, group.bounds)


def _union(groups: list[Group]) -> BBox:
    if not groups:
        return (-180.0, -90.0, 180.0, 90.0)
    return (
        min(g.bounds[0] for g in groups),
        min(g.bounds[1] for g in groups),
        max(g.bounds[2] for g in groups),
        max(g.bounds[3] for g in groups),
    )


def capabilities_document(
    version: Version, resource: str, title: str, groups: list[Group]
) -> bytes:
    """The capabilities XML; ``resource`` is the endpoint URL every operation is sent to
    (ending in ``?`` or ``&``, as the specifications ask)."""
    writer = _Writer(version, resource, title)
    if version == V130:
        root = ET.Element(
            "WMS_Capabilities",
            {
                "version": V130,
                "xmlns": WMS_NS,  # a literal default namespace: ET cannot mix one with bare names
                f"{{{XSI_NS}}}schemaLocation": (
                    f"{WMS_NS} http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd "
                    f"{SLD_NS} http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd"
                ),
            },
        )
    else:
        root = ET.Element("WMT_MS_Capabilities", {"version": V111})
    writer.service(root)
    capability = writer.sub(root, "Capability")
    writer.requests(capability)
    top = writer.sub(capability, "Layer")
    writer.sub(top, "Title", title)
    writer.crs_list(top, SERVICE_CODES)
    writer.bounds(top, _union(groups), (CRS84, WGS84))
    for group in groups:
        writer.group(top, group)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)
