"""WMS parameter parsing without HTTP: names in any case, axis order per version and CRS,
version negotiation, and the codes refusals carry."""

from __future__ import annotations

import pytest

from tileserver.wms.crs import parse_crs, utm_codes, wgs84_bounds_in
from tileserver.wms.errors import WMSError
from tileserver.wms.params import (
    lower_keys,
    negotiated_version,
    operation,
    parse_feature_info,
    parse_map,
    request_version,
)

BASE = {"layers": "a", "width": "10", "height": "20", "format": "image/png"}


def _map(version: str, crs: str, bbox: str, **extra: str):
    key = "crs" if version == "1.3.0" else "srs"
    return parse_map({**BASE, key: crs, "bbox": bbox, **extra}, version)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "crs", "given", "x_y"),
    [
        # 1.3.0: EPSG:4326 is latitude first; so is ETRS89 (4258) and LAEA Europe (3035)
        ("1.3.0", "EPSG:4326", "30,114,31,115", (114, 30, 115, 31)),
        ("1.3.0", "EPSG:4258", "50,5,51,6", (5, 50, 6, 51)),
        ("1.3.0", "EPSG:3035", "3000000,4000000,3100000,4100000", (4e6, 3e6, 4.1e6, 3.1e6)),
        ("1.3.0", "CRS:84", "114,30,115,31", (114, 30, 115, 31)),
        ("1.3.0", "EPSG:3857", "1,2,3,4", (1, 2, 3, 4)),
        ("1.3.0", "EPSG:32650", "1,2,3,4", (1, 2, 3, 4)),
        ("1.3.0", "urn:ogc:def:crs:EPSG::4326", "30,114,31,115", (114, 30, 115, 31)),
        # 1.1.1 is always x (east), y (north)
        ("1.1.1", "EPSG:4326", "114,30,115,31", (114, 30, 115, 31)),
        ("1.1.1", "EPSG:3035", "1,2,3,4", (1, 2, 3, 4)),
    ],
)
def test_bbox_axis_order(version, crs, given, x_y):
    assert _map(version, crs, given).bbox == pytest.approx(x_y)


def test_names_are_case_insensitive_values_are_not():
    q = lower_keys([("ReQuEsT", "getmap"), ("LAYERS", "Ab"), ("layers", "ignored")])
    assert operation(q) == "GetMap" and q["layers"] == "Ab"


@pytest.mark.parametrize(
    ("asked", "got"),
    [(None, "1.3.0"), ("1.3.0", "1.3.0"), ("1.1.1", "1.1.1"), ("1.2.0", "1.1.1"),
     ("1.0.0", "1.1.1"), ("2.0.0", "1.3.0"), ("nonsense", "1.3.0")],
)  # fmt: skip
def test_capabilities_version_negotiation(asked, got):
    assert negotiated_version({"version": asked} if asked else {}) == got


def test_request_version_defaults_by_srs_or_crs():
    assert request_version({"srs": "EPSG:4326"}) == "1.1.1"
    assert request_version({"crs": "EPSG:4326"}) == "1.3.0"
    assert request_version({"version": "1.1.0"}) == "1.1.1"
    with pytest.raises(WMSError) as refused:
        request_version({"version": "3.0.0"})
    assert refused.value.wms_code == "InvalidParameterValue"


@pytest.mark.parametrize(
    ("version", "changes", "code", "locator"),
    [
        ("1.3.0", {"crs": "EPSG:4978"}, "InvalidCRS", "CRS"),  # geocentric: no flat map
        ("1.1.1", {"srs": "EPSG:999999"}, "InvalidSRS", "SRS"),
        ("1.3.0", {"crs": "+proj=longlat"}, "InvalidCRS", "CRS"),
        ("1.3.0", {"format": "image/gif"}, "InvalidFormat", "FORMAT"),
        ("1.3.0", {"width": "4097"}, "InvalidParameterValue", "WIDTH"),
        ("1.3.0", {"height": "0"}, "InvalidParameterValue", "HEIGHT"),
        ("1.3.0", {"bbox": "3,2,1,4"}, "InvalidParameterValue", "BBOX"),
        ("1.3.0", {"bbox": "1,2,3"}, "InvalidParameterValue", "BBOX"),
        ("1.3.0", {"bbox": "nan,2,3,4"}, "InvalidParameterValue", "BBOX"),
        ("1.3.0", {"styles": "a,b"}, "StyleNotDefined", "STYLES"),
        ("1.3.0", {"layers": ",".join("abcdefghi")}, "InvalidParameterValue", "LAYERS"),
        ("1.3.0", {"transparent": "maybe"}, "InvalidParameterValue", "TRANSPARENT"),
        ("1.3.0", {"bgcolor": "red"}, "InvalidParameterValue", "BGCOLOR"),
    ],
)
def test_map_refusals_carry_codes(version, changes, code, locator):
    key = "crs" if version == "1.3.0" else "srs"
    q = {**BASE, key: "EPSG:3857", "bbox": "1,2,3,4", **changes}
    with pytest.raises(WMSError) as refused:
        parse_map(q, version)
    assert (refused.value.wms_code, refused.value.locator) == (code, locator)


def test_missing_parameters_are_named():
    with pytest.raises(WMSError) as refused:
        parse_map({**BASE, "crs": "EPSG:3857"}, "1.3.0")
    assert (refused.value.wms_code, refused.value.locator) == ("MissingParameterValue", "BBOX")


def test_feature_info_pixel_names_and_bounds():
    q = {**BASE, "crs": "EPSG:3857", "bbox": "0,0,10,20", "query_layers": "a"}
    assert parse_feature_info({**q, "i": "3", "j": "4"}, "1.3.0").i == 3
    assert parse_feature_info({**q, "x": "3", "y": "4"}, "1.1.1").j == 4
    with pytest.raises(WMSError) as refused:
        parse_feature_info({**q, "i": "10", "j": "0"}, "1.3.0")  # WIDTH is 10: 0-9
    assert refused.value.wms_code == "InvalidPoint"
    with pytest.raises(WMSError) as refused:
        parse_feature_info({**q, "query_layers": "b", "i": "1", "j": "1"}, "1.3.0")
    assert refused.value.wms_code == "LayerNotDefined"


def test_capabilities_bounding_boxes_follow_axis_order():
    bounds = (114.0, 30.0, 115.0, 31.0)
    assert wgs84_bounds_in("EPSG:4326", bounds, "1.3.0") == (30.0, 114.0, 31.0, 115.0)
    assert wgs84_bounds_in("EPSG:4326", bounds, "1.1.1") == bounds
    assert wgs84_bounds_in("CRS:84", bounds, "1.3.0") == bounds
    x0, y0, x1, y1 = wgs84_bounds_in("EPSG:3857", bounds, "1.3.0")  # type: ignore[misc]
    assert 12.6e6 < x0 < x1 < 12.9e6 and 3.5e6 < y0 < y1 < 3.7e6
    assert not parse_crs("EPSG:32650", "1.3.0").north_first


def test_utm_zones_of_a_dataset():
    assert utm_codes((114.3, 30.5, 114.5, 30.6)) == ["EPSG:32650"]
    assert utm_codes((113.9, 30.5, 114.4, 30.6)) == ["EPSG:32649", "EPSG:32650"]
    assert utm_codes((-1, -1, 1, 1)) == ["EPSG:32630", "EPSG:32631", "EPSG:32730", "EPSG:32731"]
    assert utm_codes((0, 0, 40, 1)) == []  # seven zones: UTM is no map for it
