"""Parsers of the STAC search parameters: RFC 3339, intervals, bbox, CQL2, tokens, GET forms."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from tileserver.errors import InvalidInput
from tileserver.stac.datetimes import format_rfc3339, parse_interval, parse_rfc3339
from tileserver.stac.filters import filter_clause, parse_filter
from tileserver.stac.geometry import parse_bbox
from tileserver.stac.paging import decode_token, encode_token
from tileserver.stac.params import parse_search_query
from tileserver.stac.queryables import FilterContext
from tileserver.stac.render import default_render_query

CTX = FilterContext(Session(create_engine("sqlite://")), [])
"""Enough to compile filters that need no rows (no spatial, like or array predicates)."""

UTC = dt.UTC


def test_rfc3339_instants() -> None:
    assert parse_rfc3339("2024-05-01T00:00:00Z") == dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_rfc3339("2024-05-01t08:00:00+08:00") == dt.datetime(2024, 5, 1, tzinfo=UTC)
    fine = parse_rfc3339("2024-05-01T00:00:00.123456789Z")
    assert fine.microsecond == 123456
    assert format_rfc3339(dt.datetime(2024, 5, 1, 3)) == "2024-05-01T03:00:00Z"
    for bad in ("2024-05-01", "2024-05-01T00:00:00", "2024-13-01T00:00:00Z", "now"):
        with pytest.raises(InvalidInput):
            parse_rfc3339(bad)


def test_intervals() -> None:
    t = dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_interval("2024-05-01T00:00:00Z") == (t, t)
    assert parse_interval("../2024-05-01T00:00:00Z") == (None, t)
    assert parse_interval("2024-05-01T00:00:00Z/") == (t, None)
    for bad in ("../..", "/", "a/b/c", "2024-05-02T00:00:00Z/2024-05-01T00:00:00Z", ""):
        with pytest.raises(InvalidInput):
            parse_interval(bad)


def test_bbox() -> None:
    assert parse_bbox("1,2,3,4") == (1, 2, 3, 4)
    assert parse_bbox([1, 2, 0, 3, 4, 100]) == (1, 2, 3, 4)
    assert parse_bbox([170, -10, -170, 10]) == (170, -10, -170, 10)  # across the antimeridian
    for bad in ("1,2,3", "1,2,3,4,5", "x,1,2,3", [0, 5, 1, 4], [0, 0, 1, float("inf")]):
        with pytest.raises(InvalidInput):
            parse_bbox(bad)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("eo:cloud_cover < 10", {"op": "<", "args": [{"property": "eo:cloud_cover"}, 10.0]}),
        ("10 > eo:cloud_cover", {"op": ">", "args": [10.0, {"property": "eo:cloud_cover"}]}),
        (
            "eo:cloud_cover >= 1.5e1 AND NOT (eo:cloud_cover = 20 OR eo:cloud_cover IS NULL)",
            {
                "op": "and",
                "args": [
                    {"op": ">=", "args": [{"property": "eo:cloud_cover"}, 15.0]},
                    {
                        "op": "not",
                        "args": [
                            {
                                "op": "or",
                                "args": [
                                    {"op": "=", "args": [{"property": "eo:cloud_cover"}, 20.0]},
                                    {"op": "isNull", "args": [{"property": "eo:cloud_cover"}]},
                                ],
                            }
                        ],
                    },
                ],
            },
        ),
        (
            '"properties.eo:cloud_cover" is not null',
            {
                "op": "not",
                "args": [{"op": "isNull", "args": [{"property": "properties.eo:cloud_cover"}]}],
            },
        ),
    ],
)
def test_cql2_text_parses_to_cql2_json(text: str, tree: dict) -> None:
    parsed = parse_filter(text, None, "cql2-text")
    assert parsed == tree
    filter_clause(parsed, CTX)  # compiles


@pytest.mark.parametrize(
    "text",
    ["", "eo:cloud_cover", "eo:cloud_cover < ", "(eo:cloud_cover < 1", "eo:cloud_cover < 1 AND",
     "eo:cloud_cover IS 5", "datetime > 1", "eo:cloud_cover LIKE 1", "eo:cloud_cover < 1 ;"],
)  # fmt: skip
def test_cql2_text_errors(text: str) -> None:
    with pytest.raises(InvalidInput):
        filter_clause(parse_filter(text, None, "cql2-text"), CTX)


def test_cql2_json_from_a_get_string() -> None:
    tree = parse_filter('{"op":"<=","args":[{"property":"eo:cloud_cover"},5]}', "cql2-json", "")
    assert tree["op"] == "<="
    with pytest.raises(InvalidInput):
        filter_clause({"op": "<", "args": [{"property": "eo:cloud_cover"}, True]}, CTX)


def test_tokens_round_trip_and_reject_forgeries() -> None:
    assert decode_token(encode_token(0)) == 0
    assert decode_token(encode_token(1234)) == 1234
    for bad in ("", "!!!", encode_token(-1), "eyJvZmZzZXQiOiJ4In0"):  # last: {"offset":"x"}
        with pytest.raises(InvalidInput):
            decode_token(bad)


def test_get_parameters_become_a_search_request() -> None:
    request = parse_search_query(
        {
            "bbox": "1,2,3,4",
            "ids": "a, b,,c",
            "collections": "generic",
            "sortby": "-properties.eo:cloud_cover, datetime",
            "limit": "5000",
            "filter": "eo:cloud_cover < 3",
        }
    )
    assert request.bbox == [1, 2, 3, 4]
    assert request.ids == ["a", "b", "c"] and request.collections == ["generic"]
    assert [(s.field, s.direction) for s in request.sortby or []] == [
        ("properties.eo:cloud_cover", "desc"),
        ("datetime", "asc"),
    ]
    assert request.limit == 1000  # clamped, as OGC API Features asks
    body = request.body(token="t")
    assert body["token"] == "t" and "filter_lang" not in body and "intersects" not in body


def test_default_render_matches_the_data(demo, catalog) -> None:
    optical = catalog.get_dataset(demo["scene-2024-05-12"])
    assert default_render_query(optical) == "bidx=3&bidx=2&bidx=1&rescale=0%2C3000"
    sar = catalog.get_dataset(demo["sar-2024-05-14"])
    assert default_render_query(sar) == "bidx=1&rescale=-25%2C0"
