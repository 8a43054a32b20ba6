"""Look places up in the gazetteer file (``build.py`` writes it at install).

A name matches when the query is a prefix of one of the place's normalized names (case,
accents and punctuation ignored), answered from the ``names`` primary-key index. Ranked: exact
names first, then countries before regions before cities, then by population.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from tileserver.errors import InvalidInput, NotFoundError
from tileserver.places.names import normalize

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "build" / "places" / "gazetteer.sqlite"
MAX_LIMIT = 50
Kind = Literal["country", "region", "city"]


class PlaceNotFound(NotFoundError):
    """No place with that id."""

    code = "place_not_found"


class PlacesUnavailable(NotFoundError):
    """The gazetteer file is missing (``make places`` was not run): no place can be found."""

    code = "places_unavailable"


class Place(BaseModel):
    id: str
    name: str
    kind: Kind
    type: str
    country: str
    country_name: str
    region: str
    population: int
    bbox: tuple[float, float, float, float]


class Gazetteer:
    """One read-only connection per thread over the gazetteer file."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise PlacesUnavailable(
                "The place gazetteer is not installed on this server (make places)."
            )
        self.path = path
        self._local = threading.local()
        self.attribution = (
            self._db().execute("SELECT value FROM meta WHERE key = 'attribution'").fetchone()[0]
        )

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.db = db
        return db

    def search(self, query: str, limit: int = 10, kinds: list[Kind] | None = None) -> list[Place]:
        key = normalize(query)
        if not key:
            raise InvalidInput("q must name a place (at least one letter).")
        limit = max(1, min(limit, MAX_LIMIT))
        kind_clause = ""
        params: list[Any] = [key, key, key + "\U0010ffff", key, key + "\U0010ffff"]
        if kinds:
            kind_clause = f" AND p.kind IN ({','.join('?' * len(kinds))})"
            params += kinds
        sql = (
            "SELECT p.id, p.name, p.kind, p.type, p.country, p.country_name, p.region, "
            "p.population, p.west, p.south, p.east, p.north, MAX(n.key = ?) AS exact, "
            "(p.name_key >= ? AND p.name_key < ?) AS named "
            "FROM names n JOIN places p ON p.id = n.place_id "
            f"WHERE n.key >= ? AND n.key < ?{kind_clause} GROUP BY p.id "
            "ORDER BY exact DESC, named DESC, p.kind_rank, p.population DESC, p.name LIMIT ?"
        )
        rows = self._db().execute(sql, [*params, limit]).fetchall()
        return [_place(r) for r in rows]

    def get(self, place_id: str) -> tuple[Place, dict[str, Any]]:
        """The place and its polygon (GeoJSON geometry)."""
        row = (
            self._db()
            .execute(
                "SELECT id, name, kind, type, country, country_name, region, population, "
                "west, south, east, north, geometry FROM places WHERE id = ?",
                (place_id,),
            )
            .fetchone()
        )
        if row is None:
            raise PlaceNotFound(f"No place '{place_id[:100]}'.")
        return _place(row), json.loads(row[12])


def _place(row: tuple[Any, ...]) -> Place:
    return Place(
        id=row[0],
        name=row[1],
        kind=row[2],
        type=row[3],
        country=row[4],
        country_name=row[5],
        region=row[6],
        population=row[7],
        bbox=(row[8], row[9], row[10], row[11]),
    )


@lru_cache(maxsize=4)
def open_gazetteer(path: Path | None = None) -> Gazetteer:
    """The gazetteer at ``path`` (default: the one ``make places`` built), opened once."""
    return Gazetteer(path or DEFAULT_PATH)


def place_feature(place: Place, geometry: dict[str, Any], attribution: str) -> dict[str, Any]:
    """A place as a GeoJSON Feature, usable as a STAC search's ``intersects``."""
    props = place.model_dump(exclude={"id", "bbox"})
    props["attribution"] = attribution
    if place.kind == "city":
        props["area"] = "a circle around the city's point, sized by its population"
    return {
        "type": "Feature",
        "id": place.id,
        "bbox": list(place.bbox),
        "geometry": geometry,
        "properties": props,
    }
