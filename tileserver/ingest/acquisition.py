"""When a raster was acquired: from what the user says, the file's metadata, or its product name.

The registration time is never taken for the acquisition time: a scene uploaded in 2026 that
was flown in 2020 must be found by a search for 2020. When nothing below gives a time, the
acquisition stays unknown (``None``) and the STAC API says so (see ``tileserver/stac/items.py``).

Sources, strongest first:

1. the user's ``datetime`` (an upload field, ``cogsight add --datetime``);
2. acquisition metadata GDAL exposes (``ACQUISITIONDATETIME`` in the ``IMAGERY`` domain, which
   GDAL fills from IMD / MTL / DIM sidecars; ``DATE_ACQUIRED`` + ``SCENE_CENTER_TIME``, ...);
3. a Landsat ``*_MTL.json`` / ``*_MTL.txt`` or Maxar ``.IMD`` sidecar beside a local file;
4. the product name: Sentinel-2, Sentinel-1, Landsat, NAIP;
5. ``TIFFTAG_DATETIME`` (often the time the file was written, hence this low);
6. one unambiguous ``YYYYMMDD`` / ``YYYY-MM-DD`` date in the file name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import RasterioError

from tileserver.errors import InvalidInput

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""Metadata and file names dated before this are not believed; a STAC item of unknown
acquisition time says it was acquired between this instant and its registration."""

# Acquisition keys in GDAL metadata (default and IMAGERY domains), strongest first.
METADATA_KEYS = (
    "ACQUISITIONDATETIME",
    "ACQUISITION_DATETIME",
    "DATATAKE_1_DATATAKE_SENSING_START",
    "SENSING_TIME",
    "PRODUCT_START_TIME",
    "ACQUISITION_START_TIME",
    "FIRST_LINE_TIME",
    "ACQUISITION_DATE",
    "DATE_ACQUIRED",
)
SIDECAR_MAX_BYTES = 1024 * 1024

_TIMESTAMP = re.compile(
    r"^\s*(?P<date>\d{4}[-:]\d{2}[-:]\d{2})(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2}|UTC)?\s*$",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"^\s*(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*Z?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Acquisition:
    """An acquisition time (None: unknown), where it came from, and what the name told."""

    datetime: datetime | None
    source: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Product:
    pattern: re.Pattern[str]
    source: str

    def match(self, name: str) -> Acquisition | None:
        found = self.pattern.search(name)
        if found is None:
            return None
        when = _from_compact(found["date"], found.groupdict().get("time"))
        if when is None:
            return None
        return Acquisition(when, f"name:{self.source}", _product_properties(self.source, found))


# Product names: what an agency's file or scene is called. Dates in them are UTC.
PRODUCTS = (
    # S2A_MSIL2A_20200831T101031_N0214_R022_T32TPT_20200831T130019
    _Product(
        re.compile(
            r"(?<![A-Za-z0-9])(?P<sat>S2[A-D])_MSI(?:L1C|L2A)_(?P<date>\d{8})T(?P<time>\d{6})_",
            re.IGNORECASE,
        ),
        "sentinel-2",
    ),
    # S2A_32TPT_20200831_0_L2A (Element 84's COGs)
    _Product(
        re.compile(
            r"(?<![A-Za-z0-9])(?P<sat>S2[A-D])_\d{1,2}[A-Z]{3}_(?P<date>\d{8})_\d+_L(?:1C|2A)",
            re.IGNORECASE,
        ),
        "sentinel-2",
    ),
    # S1A_IW_GRDH_1SDV_20200831T101031_20200831T101056_034123_03F6A8_1234, and the
    # measurement files inside a SAFE: s1a-iw-grd-vv-20200831t101031-20200831t101056-...
    _Product(
        re.compile(
            r"(?<![A-Za-z0-9])(?P<sat>S1[A-D])[_-](?:IW|EW|SM|WV|S[1-6])[_-][A-Z_]{3,4}[_-]"
            r"(?:[0-9][A-Z]{3}_|[HV]{2}-)?(?P<date>\d{8})T(?P<time>\d{6})[_-]\d{8}T\d{6}",
            re.IGNORECASE,
        ),
        "sentinel-1",
    ),
    # LC08_L2SP_009059_20200831_20200906_02_T1 (acquired, then processed)
    _Product(
        re.compile(
            r"(?<![A-Za-z0-9])(?P<sat>L[COTEM]0[1-9])_L[12][A-Z]{2}_\d{6}_(?P<date>\d{8})_\d{8}_"
            r"\d{2}_(?:T1|T2|RT)",
            re.IGNORECASE,
        ),
        "landsat",
    ),
    # m_4609662_ne_14_060_20200831 (NAIP quarter quads; the date is the flight's)
    _Product(
        re.compile(
            r"^m_\d{7}_(?:ne|nw|se|sw)_\d{2}_\d{1,3}_(?P<date>\d{8})(?![0-9])", re.IGNORECASE
        ),
        "naip",
    ),
)

_GENERIC = re.compile(
    r"(?<![0-9])(?P<y>(?:19|20)\d{2})(?P<sep>-?)(?P<m>0[1-9]|1[0-2])(?P=sep)"
    r"(?P<d>0[1-9]|[12]\d|3[01])(?![0-9])"
)

LANDSAT_INSTRUMENTS = {"C": ["oli", "tirs"], "O": ["oli"], "E": ["etm+"], "M": ["mss"]}


def detect_acquisition(
    user: str | datetime | None,
    filename: str,
    tags: Mapping[str, str],
    sidecar_of: Path | None = None,
) -> Acquisition:
    """The acquisition time of a raster named ``filename`` with GDAL metadata ``tags`` (the
    default and ``IMAGERY`` domains merged). ``sidecar_of``: the local file whose neighbours
    may be read (never an upload's temporary copy). Raises ``InvalidInput`` only for a
    malformed ``user`` value; everything else that cannot be read is skipped."""
    name = Path(filename).name
    named = _from_product_name(name)
    extra = named.properties if named else {}
    if user is not None and (not isinstance(user, str) or user.strip()):
        return Acquisition(parse_user_datetime(user), "user", extra)
    for key in METADATA_KEYS:
        when = _from_metadata(key, tags)
        if when is not None:
            return Acquisition(when, f"metadata:{key}", extra)
    if sidecar_of is not None:
        sidecar = _from_sidecar(sidecar_of)
        if sidecar is not None:
            return Acquisition(sidecar.datetime, sidecar.source, extra)
    if named is not None:
        return named
    when = parse_timestamp(tags.get("TIFFTAG_DATETIME", ""))
    if when is not None:
        return Acquisition(when, "metadata:TIFFTAG_DATETIME", extra)
    when = _from_generic_name(Path(name).stem)
    if when is not None:
        return Acquisition(when, "name:date", extra)
    return Acquisition(None, None, extra)


def read_tags(path: str) -> dict[str, str]:
    """The file's GDAL metadata: the default domain, then ``IMAGERY`` (GDAL's reading of
    IMD / MTL / DIM sidecars, which wins). Empty when the file cannot be read again."""
    try:
        with rasterio.open(path) as src:
            return {**src.tags(), **src.tags(ns="IMAGERY")}
    except (RasterioError, OSError):
        return {}


def parse_user_datetime(value: str | datetime) -> datetime:
    """A user's acquisition time: ISO 8601 (a date alone is midnight UTC; no zone is UTC)."""
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        parsed = parse_timestamp(value)
        if parsed is None:
            raise InvalidInput(
                f"Cannot parse datetime '{value[:40]}'; use ISO 8601, e.g. 2020-08-31T10:10:31Z."
            )
        when = parsed
    return _plausible(when, "datetime")


def parse_timestamp(text: str) -> datetime | None:
    """``2020-08-31``, ``2020-08-31T10:10:31[.f][Z|±hh:mm]``, ``2020:08:31 10:10:31`` (TIFF)
    as an aware UTC datetime; None when it is none of these or not a real date."""
    found = _TIMESTAMP.match(text or "")
    if found is None:
        return None
    date = found["date"].replace(":", "-")
    clock = found["time"] or "00:00:00"
    if len(clock) == 5:
        clock += ":00"
    head, _, fraction = clock.partition(".")
    clock = f"{head}.{fraction[:6]}" if fraction else head
    zone = (found["tz"] or "Z").upper()
    zone = "+00:00" if zone in ("Z", "UTC") else zone
    if len(zone) == 5:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        return datetime.fromisoformat(f"{date}T{clock}{zone}").astimezone(UTC)
    except ValueError:
        return None


def _plausible(when: datetime, what: str) -> datetime:
    """A user may date an old scanned map before 1900, but nothing is acquired tomorrow."""
    if when > datetime.now(UTC) + timedelta(days=1):
        raise InvalidInput(f"{what} {when.isoformat()} is in the future.")
    return when


def _sane(when: datetime | None) -> datetime | None:
    """Metadata and names are not trusted with impossible times: those count as unknown."""
    if when is None or when < EARLIEST or when > datetime.now(UTC) + timedelta(days=1):
        return None
    return when


def _from_metadata(key: str, tags: Mapping[str, str]) -> datetime | None:
    value = tags.get(key)
    if not value:
        return None
    when = parse_timestamp(value.strip().strip('"'))
    if when is not None and key in ("DATE_ACQUIRED", "ACQUISITION_DATE"):
        when = _with_clock(when, tags.get("SCENE_CENTER_TIME") or tags.get("ACQUISITION_TIME"))
    return _sane(when)


def _with_clock(day: datetime, clock: str | None) -> datetime:
    """A date plus Landsat's ``SCENE_CENTER_TIME`` (``"15:17:26.7234560Z"``) when readable."""
    found = _CLOCK.match((clock or "").strip('"'))
    if found is None or day.hour or day.minute or day.second:
        return day
    hours, minutes, seconds = int(found[1]), int(found[2]), int(found[3] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        return day
    micro = int((found[4] or ".0")[1:7].ljust(6, "0"))
    return day.replace(hour=hours, minute=minutes, second=seconds, microsecond=micro)


def _from_compact(date: str, clock: str | None) -> datetime | None:
    text = f"{date[:4]}-{date[4:6]}-{date[6:8]}"
    if clock:
        text += f"T{clock[:2]}:{clock[2:4]}:{clock[4:6]}"
    return _sane(parse_timestamp(text))


def _from_product_name(name: str) -> Acquisition | None:
    for product in PRODUCTS:
        found = product.match(name)
        if found is not None:
            return found
    return None


def _product_properties(source: str, found: re.Match[str]) -> dict[str, Any]:
    """STAC common metadata a product name tells (platform, constellation, instruments)."""
    sat = (found.groupdict().get("sat") or "").lower()
    if source == "sentinel-2":
        return {"platform": f"sentinel-2{sat[-1]}", "constellation": "sentinel-2",
                "instruments": ["msi"]}  # fmt: skip
    if source == "sentinel-1":
        return {"platform": f"sentinel-1{sat[-1]}", "constellation": "sentinel-1",
                "instruments": ["c-sar"]}  # fmt: skip
    if source == "landsat":
        number = int(sat[2:])
        sensor = sat[1].upper()
        instruments = ["tm"] if sensor == "T" and number < 8 else ["tirs"]
        return {
            "platform": f"landsat-{number}",
            "instruments": LANDSAT_INSTRUMENTS.get(sensor, instruments),
        }
    return {}


def _from_generic_name(stem: str) -> datetime | None:
    """One date in the name, and only one: two different dates (acquired, processed) or a
    date-like number glued to other digits are ambiguous, so nothing is guessed."""
    dates = set()
    for found in _GENERIC.finditer(stem):
        when = _sane(parse_timestamp(f"{found['y']}-{found['m']}-{found['d']}"))
        if when is not None:
            dates.add(when)
    return dates.pop() if len(dates) == 1 else None


def _from_sidecar(path: Path) -> Acquisition | None:
    """A Landsat MTL (JSON or text) or a Maxar IMD next to ``path``."""
    folder, stem = path.parent, path.stem
    parts = stem.split("_")
    candidates = [folder / f"{stem}.IMD", folder / f"{stem}.imd"]
    if len(parts) >= 7:
        product = "_".join(parts[:7])
        candidates += [folder / f"{product}_MTL.json", folder / f"{product}_MTL.txt"]
    for candidate in candidates:
        try:
            if not candidate.is_file() or candidate.stat().st_size > SIDECAR_MAX_BYTES:
                continue
            text = candidate.read_text(errors="replace")
        except OSError:
            continue
        when = _read_sidecar(candidate.name, text)
        if when is not None:
            kind = "IMD" if candidate.suffix.lower() == ".imd" else "MTL"
            return Acquisition(when, f"sidecar:{kind}")
    return None


def _read_sidecar(name: str, text: str) -> datetime | None:
    if name.endswith(".json"):
        try:
            doc = json.loads(text)
            attrs = doc["LANDSAT_METADATA_FILE"]["IMAGE_ATTRIBUTES"]
            return _from_metadata("DATE_ACQUIRED", attrs)
        except (ValueError, KeyError, TypeError, RecursionError):
            return None
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().upper()] = value.strip().rstrip(";").strip().strip('"')
    for key in ("FIRSTLINETIME", "EARLIESTACQTIME", "DATE_ACQUIRED"):
        if key in values:
            when = (
                _from_metadata("DATE_ACQUIRED", values)
                if key == "DATE_ACQUIRED"
                else _sane(parse_timestamp(values[key]))
            )
            if when is not None:
                return when
    return None
