"""WMS service exceptions: the codes the specifications name, written as ServiceExceptionReport.

WMS clients (QGIS, GDAL, OWSLib, ArcGIS) parse an XML report, not cogsight's JSON error body,
so every refusal of a WMS request is a ``WMSError`` with an OGC ``code`` (and the parameter it
is about as ``locator``), answered as XML: ``application/vnd.ogc.se_xml`` for 1.1.1, ``text/xml``
for 1.3.0. Requests that are not WMS's own codes (a missing or malformed parameter) use OWS
Common's ``MissingParameterValue`` / ``InvalidParameterValue``, as GeoServer and MapServer do.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Final, Literal

from tileserver.auth.redact import redact
from tileserver.errors import InvalidInput

Version = Literal["1.1.1", "1.3.0"]
V111: Final = "1.1.1"
V130: Final = "1.3.0"
REPORT_MEDIA_TYPE: dict[str, str] = {V111: "application/vnd.ogc.se_xml", V130: "text/xml"}
OGC_NS = "http://www.opengis.net/ogc"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_MESSAGE = 400


class WMSError(InvalidInput):
    """A refused WMS request: ``wms_code`` is the OGC exception code (None: no code), ``status``
    the HTTP status of the report (400 unless said otherwise)."""

    code = "wms_exception"

    def __init__(
        self,
        message: str,
        wms_code: str | None = None,
        locator: str | None = None,
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.wms_code = wms_code
        self.locator = locator
        self.status = status


def missing(name: str) -> WMSError:
    return WMSError(f"Missing parameter '{name.upper()}'.", "MissingParameterValue", name.upper())


def invalid(name: str, message: str) -> WMSError:
    return WMSError(message, "InvalidParameterValue", name.upper())


def clip(value: str, limit: int = 60) -> str:
    """A client's value as it may appear in a message: short, tokens masked."""
    value = redact(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def crs_code(version: str) -> str:
    """1.1.1 calls it a spatial reference system (SRS), 1.3.0 a CRS."""
    return "InvalidSRS" if version == V111 else "InvalidCRS"


def exception_report(version: Version, error: WMSError) -> bytes:
    """The ServiceExceptionReport document for ``error`` in ``version``'s dialect."""
    message = redact(str(error))[:MAX_MESSAGE]
    if version == V130:
        root = ET.Element(
            "ServiceExceptionReport",
            {
                "version": V130,
                "xmlns": OGC_NS,
                f"{{{XSI_NS}}}schemaLocation": (
                    f"{OGC_NS} http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd"
                ),
            },
        )
    else:
        root = ET.Element("ServiceExceptionReport", {"version": V111})
    attributes = {}
    if error.wms_code:
        attributes["code"] = error.wms_code
    if error.locator:
        attributes["locator"] = error.locator
    item = ET.SubElement(root, "ServiceException", attributes)
    item.text = message
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)
