"""Refused WMS requests answer an OGC ServiceExceptionReport with the specification's code,
in the request's version (``application/vnd.ogc.se_xml`` for 1.1.1, ``text/xml`` for 1.3.0),
or an image when ``EXCEPTIONS`` asks for one; never a 500, never cogsight's JSON body."""

from __future__ import annotations

import pytest

from tests.wms.helpers import NATIVE_BOUNDS, getmap, report, rgba

MEDIA = {"1.1.1": "application/vnd.ogc.se_xml", "1.3.0": "text/xml"}


def _swap(query: str, old: str, new: str) -> str:
    assert old in query
    return query.replace(old, new)


PNG = "FORMAT=image%2Fpng"
BAD = "InvalidParameterValue"
CASES = [
    # (name, version, edit of a valid GetMap query, code, locator)
    ("bad CRS", "1.3.0", ("CRS=EPSG%3A32650", "CRS=EPSG%3A999999"), "InvalidCRS", "CRS"),
    ("bad SRS", "1.1.1", ("SRS=EPSG%3A32650", "SRS=EPSG%3A999999"), "InvalidSRS", "SRS"),
    ("geocentric", "1.3.0", ("CRS=EPSG%3A32650", "CRS=EPSG%3A4978"), "InvalidCRS", "CRS"),
    ("bad format", "1.3.0", (PNG, "FORMAT=image%2Fgif"), "InvalidFormat", "FORMAT"),
    ("format 1.1.1", "1.1.1", (PNG, "FORMAT=text%2Fhtml"), "InvalidFormat", "FORMAT"),
    ("unknown layer", "1.3.0", ("LAYERS=", "LAYERS=nope"), "LayerNotDefined", "LAYERS"),
    ("unknown preset", "1.1.1", ("LAYERS=", "LAYERS=nope:ndvi"), "LayerNotDefined", "LAYERS"),
    ("unknown style", "1.3.0", ("STYLES=", "STYLES=sepia"), "StyleNotDefined", "STYLES"),
    ("huge width", "1.3.0", ("WIDTH=256", "WIDTH=100000"), "InvalidParameterValue", "WIDTH"),
    ("zero height", "1.1.1", ("HEIGHT=256", "HEIGHT=0"), "InvalidParameterValue", "HEIGHT"),
    ("reversed bbox", "1.3.0", ("BBOX=", "BBOX=9%2C9%2C1%2C1"), "InvalidParameterValue", "BBOX"),
    ("no bbox", "1.3.0", ("BBOX=", "NOBBOX="), "MissingParameterValue", "BBOX"),
    ("no layers", "1.3.0", ("LAYERS=", "NOLAYERS="), "MissingParameterValue", "LAYERS"),
    ("bad version", "1.3.0", ("VERSION=1.3.0", "VERSION=9.9"), BAD, "VERSION"),
    ("operation", "1.3.0", ("REQUEST=GetMap", "REQUEST=Foo"), "OperationNotSupported", "REQUEST"),
    ("service", "1.3.0", ("SERVICE=WMS", "SERVICE=WFS"), "InvalidParameterValue", "SERVICE"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("version", "edit", "code", "locator"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_refusals_are_exception_reports(client, world, version, edit, code, locator):
    crs = "EPSG:32650"
    query = getmap(world.ids["rgb"], NATIVE_BOUNDS, crs, version)
    old, new = edit
    if old in ("LAYERS=", "BBOX="):  # replace the whole parameter
        start = query.index(old)
        end = query.find("&", start)
        query = query[:start] + new + query[end:]
    else:
        query = _swap(query, old, new)
    r = client.get(f"/wms?{query}")
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == MEDIA[version]  # exact: OWSLib matches it as is
    assert r.headers["cache-control"] == "no-store"
    assert report(r)[:2] == (code, locator)


def test_feature_info_and_legend_refusals(client, world):
    ident = world.ids["rgb"]
    info = getmap(ident, NATIVE_BOUNDS).replace("GetMap", "GetFeatureInfo")
    out = client.get(f"/wms?{info}&QUERY_LAYERS={ident}&I=256&J=0&INFO_FORMAT=text/plain")
    assert report(out)[:2] == ("InvalidPoint", "I")
    bad = client.get(f"/wms?{info}&QUERY_LAYERS={ident}&I=1&J=1&INFO_FORMAT=application/pdf")
    assert report(bad)[:2] == ("InvalidFormat", "INFO_FORMAT")
    legend = "/wms?SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.3.0"
    assert report(client.get(f"{legend}&LAYER=nope&FORMAT=image/png"))[0] == "LayerNotDefined"
    assert report(client.get(f"{legend}&LAYER={ident}&FORMAT=image/tiff"))[0] == "InvalidFormat"
    assert report(client.get(f"{legend}&LAYER={ident}&STYLE=sepia"))[0] == "StyleNotDefined"
    assert report(client.get(f"{legend}&FORMAT=image/png"))[:2] == (
        "MissingParameterValue",
        "LAYER",
    )
    assert report(client.get("/wms?SERVICE=WMS"))[:2] == ("MissingParameterValue", "REQUEST")


def test_inimage_and_blank(client, world):
    query = getmap("nope", NATIVE_BOUNDS, size=(300, 200))
    drawn = client.get(f"/wms?{query}&EXCEPTIONS=INIMAGE")
    assert drawn.status_code == 200 and drawn.headers["content-type"] == "image/png"
    image = rgba(drawn.content)
    assert image.shape == (200, 300, 4)
    reddish = (image[..., 0] > 150) & (image[..., 1] < 100)
    assert 0 < reddish.mean() < 0.2  # the message, in red on white
    blank = client.get(f"/wms?{query}&EXCEPTIONS=application/vnd.ogc.se_blank&TRANSPARENT=TRUE")
    assert blank.status_code == 200 and (rgba(blank.content)[..., 3] == 0).all()
    jpeg = client.get(f"/wms?{query.replace('image%2Fpng', 'image%2Fjpeg')}&EXCEPTIONS=BLANK")
    assert jpeg.headers["content-type"] == "image/jpeg"
    assert (rgba(jpeg.content)[..., :3] > 245).all()  # BGCOLOR's white


def test_names_and_enumerations_in_any_case(client, world):
    ident = world.ids["rgb"]
    query = getmap(ident, NATIVE_BOUNDS).lower().replace(ident.lower(), ident)
    query = query.replace("request=getmap", "ReQuEsT=getMAP")
    r = client.get(f"/wms?{query}&transparent=true")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"


def test_a_bad_token_is_a_report_too(client, world):
    r = client.get(
        "/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1&access_token=cs_" + "x" * 40
    )
    assert r.status_code == 401 and r.headers["content-type"] == MEDIA["1.1.1"]
    assert "xxxx" not in r.text  # the token is never echoed
