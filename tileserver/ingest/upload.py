"""One way in for a file, whoever brings it: ``POST /datasets`` and ``cogsight ingest`` both call
``ingest_file``, so an upload and a command-line import validate, convert and record the same.

The file's content picks the path (``detect``): rasters go through ``register_raster`` after a
stricter check than ``cogsight add`` makes (an EPSG-resolvable CRS, since an upload has nobody
watching to notice a silently wrong reprojection); vectors go to ``tileserver.vectors``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tileserver.catalog import Catalog, DatasetRecord
from tileserver.errors import InvalidInput, UnsupportedMediaType
from tileserver.ingest.detect import HEAD_BYTES, Detected, detect_format
from tileserver.ingest.raster import register_raster
from tileserver.sensors import SENSORS
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.ingest")

Progress = Callable[[str], None]


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    with path.open("rb") as fh:
        return fh.read(size)


def parse_band_names(value: str | None) -> list[str] | None:
    """``"red, green,blue"`` -> ``["red", "green", "blue"]``; empty or None -> None."""
    if value is None or not value.strip():
        return None
    names = [n.strip() for n in value.split(",")]
    if any(not n for n in names):
        raise InvalidInput(f"Band names must not be empty: '{value}'.")
    return names


def check_options(sensor: str, cloud_cover: float | None) -> None:
    """Refuse bad metadata before any conversion work (and as 400, not the registry's 404)."""
    if sensor not in SENSORS:
        raise InvalidInput(f"Unknown sensor '{sensor}'. Known: {', '.join(SENSORS.list())}.")
    if cloud_cover is not None and not 0 <= cloud_cover <= 100:
        raise InvalidInput(f"cloud_cover must be a percentage in 0..100, got {cloud_cover}.")


def _vector_registrar() -> Callable[..., DatasetRecord]:
    """``tileserver.vectors.register_vector``, imported late: vector support may be absent."""
    try:
        module = importlib.import_module("tileserver.vectors")
        return module.register_vector
    except (ImportError, AttributeError) as exc:
        logger.info("vector upload refused: %s", exc)
        raise UnsupportedMediaType("vector uploads are not available on this server.") from None


def ingest_file(
    catalog: Catalog,
    settings: Settings,
    path: Path,
    *,
    filename: str | None = None,
    title: str | None = None,
    sensor: str = "generic",
    datetime_: str | datetime | None = None,
    band_names: list[str] | None = None,
    cloud_cover: float | None = None,
    owner: str | None = None,
    visibility: str = "public",
    progress: Progress | None = None,
    charge: Callable[[int], None] | None = None,
    elevation: bool | None = None,
) -> DatasetRecord:
    """Detect, validate and register one local file as a raster or vector dataset.

    ``filename`` is the name the user knows the file by (an upload's temporary copy has
    another); it gives the default title and the extension vectors are detected by. Raises
    ``InvalidInput`` (400), ``UnsupportedMediaType`` (415) or ``InvalidRaster`` (400) with a
    message saying what is wrong; on failure nothing is recorded and nothing is left behind.
    ``charge(size)`` is called with the bytes to be stored before they are (a quota check).
    """
    say = progress or (lambda _msg: None)
    name = Path(filename or path.name).name
    if not path.is_file():
        raise InvalidInput(f"No such file: {name}")
    say("detecting")
    detected = detect_format(read_head(path), name)
    check_options(sensor, cloud_cover)
    if visibility not in ("public", "private"):
        raise InvalidInput("visibility must be 'public' or 'private'.")
    label = title or Path(name).stem or "upload"
    if detected.kind == "vector":
        return _ingest_vector(
            catalog, settings, path, detected, label, say, name, owner, visibility, charge
        )

    return register_raster(
        catalog,
        settings,
        path,
        title=label,
        sensor=sensor,
        datetime_=datetime_,
        band_names=band_names,
        cloud_cover=cloud_cover,
        properties={"source_filename": name, "source_format": detected.format},
        owner=owner,
        visibility=visibility,
        progress=say,
        untrusted=True,
        charge=charge,
        elevation=elevation,
    )


def _ingest_vector(
    catalog: Catalog,
    settings: Settings,
    path: Path,
    detected: Detected,
    title: str,
    say: Progress,
    filename: str,
    owner: str | None = None,
    visibility: str = "public",
    charge: Callable[[int], None] | None = None,
) -> DatasetRecord:
    register_vector = _vector_registrar()
    say(f"registering {detected.format}")
    record = register_vector(
        catalog,
        settings,
        path,
        title=title,
        filename=filename,
        owner=owner,
        visibility=visibility,  # type: ignore[arg-type]
        charge=charge,
    )
    say("done")
    return record
