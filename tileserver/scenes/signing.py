"""Read-time access to a scene's assets, per STAC source (``COGSIGHT_STAC_SOURCES``).

The stored VRT names its assets unsigned, and its source in its metadata. When the scene's
source needs it, ``scene_gdal_path`` (called by ``sources.gdal_path``) returns what GDAL should
open instead:

- ``planetary-computer``: a copy of the VRT in GDAL's memory (``/vsimem/``) whose Azure Blob
  hrefs carry SAS tokens from the ``planetary-computer`` package, kept until the earliest token
  is a minute from expiry. The token is never in a path, a URL shown to users, a response or a
  log: only in that in-memory file.
- ``requester-pays``: GDAL's ``AWS_REQUEST_PAYER=requester`` set for the scene's ``/vsis3/``
  folders only (a path-specific option), not for the whole process.
- ``s3_access_key_id`` / ``s3_secret_access_key``: the same, for the source's S3 credentials.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import glob
import os
import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import rasterio
from rasterio.io import MemoryFile

from tileserver.scenes.vrt import SCENE_SOURCE_TAG, source_paths
from tileserver.settings import Settings, StacSource

_SOURCE = re.compile(rf'<MDI key="{SCENE_SOURCE_TAG}">([^<]*)</MDI>')
_lock = threading.Lock()
_sources: dict[str, str | None] = {}  # VRT path -> source id (files never change in place)
_signed: dict[str, tuple[dt.datetime, MemoryFile]] = {}  # VRT path -> (expiry, signed copy)
_path_options: set[tuple[str, str]] = set()
MARGIN = dt.timedelta(minutes=1)
DEFAULT_TTL = dt.timedelta(minutes=10)


def needs_signing(settings: Settings) -> bool:
    """Whether any configured source asks for read-time signing or credentials."""
    return any(_needs(s) for s in settings.stac_sources)


def _needs(source: StacSource) -> bool:
    return source.signing != "none" or bool(source.s3_access_key_id)


def _source_of(path: Path) -> str | None:
    key = str(path)
    if key not in _sources:
        try:
            match = _SOURCE.search(path.read_text(encoding="utf-8"))
        except OSError:
            return None
        _sources[key] = match.group(1) if match else None
    return _sources[key]


def scene_gdal_path(path: Path, settings: Settings) -> str:
    """What GDAL opens for the scene VRT at ``path``: the file itself, or its signed copy."""
    source_id = _source_of(path)
    source = settings.stac_source(source_id) if source_id else None
    if source is None or not _needs(source):
        return str(path)
    if source.signing == "requester-pays" or source.s3_access_key_id:
        _set_s3_options(path, source)
    if source.signing == "planetary-computer":
        return _planetary_computer(path)
    return str(path)


# --- S3: path-specific GDAL options --------------------------------------------------------


def _gdal_library() -> ctypes.CDLL:
    """The libgdal rasterio loaded (its wheel's copy, else the system's)."""
    folder = Path(rasterio.__file__).resolve().parent.parent / "rasterio.libs"
    found = sorted(glob.glob(str(folder / "libgdal*.so*"))) or ["libgdal.so"]
    return ctypes.CDLL(found[0])


def _set_path_option(prefix: str, key: str, value: str) -> None:
    library = _gdal_library()
    setter = library.VSISetPathSpecificOption
    setter.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]
    setter.restype = None
    setter(prefix.encode(), key.encode(), value.encode())


def _set_s3_options(path: Path, source: StacSource) -> None:
    """Requester-pays and the source's keys for the scene's S3 folders, once per folder."""
    options: dict[str, str] = {}
    if source.signing == "requester-pays":
        options["AWS_REQUEST_PAYER"] = "requester"
    if source.s3_access_key_id and source.s3_secret_access_key:
        options["AWS_ACCESS_KEY_ID"] = source.s3_access_key_id
        options["AWS_SECRET_ACCESS_KEY"] = source.s3_secret_access_key
        options["AWS_NO_SIGN_REQUEST"] = "NO"
    for asset in source_paths(path.read_text(encoding="utf-8")):
        if not asset.startswith("/vsis3/"):
            continue
        folder = asset.rsplit("/", 1)[0] + "/"
        with _lock:
            if (folder, source.id) in _path_options:
                continue
            for key, value in options.items():
                _set_path_option(folder, key, value)
            _path_options.add((folder, source.id))


# --- Planetary Computer: SAS tokens -------------------------------------------------------


def _expiry(url: str) -> dt.datetime:
    """A signed URL's ``se`` (signed expiry), else a short default."""
    values = parse_qs(urlsplit(url).query).get("se")
    if values:
        try:
            return dt.datetime.fromisoformat(values[0].replace("Z", "+00:00"))
        except ValueError:
            pass
    return dt.datetime.now(dt.UTC) + DEFAULT_TTL


def sign_vrt(xml: str) -> tuple[str, dt.datetime]:
    """The VRT with every Azure Blob href signed, and when the first token expires."""
    import planetary_computer

    expiry: dt.datetime | None = None
    signed = xml
    for path in set(source_paths(xml)):
        if not path.startswith("/vsicurl/https://"):
            continue
        url = path[len("/vsicurl/") :]
        if ".blob.core.windows.net/" not in url:
            continue
        signed_url = planetary_computer.sign_url(url)
        until = _expiry(signed_url)
        expiry = until if expiry is None else min(expiry, until)
        signed = signed.replace(escape(path), escape(f"/vsicurl/{signed_url}"))
    return signed, expiry or dt.datetime.now(dt.UTC) + DEFAULT_TTL


def _planetary_computer(path: Path) -> str:
    key = str(path)
    now = dt.datetime.now(dt.UTC)
    with _lock:
        cached = _signed.get(key)
        if cached is not None and cached[0] - MARGIN > now:
            return str(cached[1].name)
    xml, expiry = sign_vrt(path.read_text(encoding="utf-8"))
    memory = MemoryFile(xml.encode("utf-8"), ext=".vrt")
    with _lock:
        old = _signed.get(key)
        _signed[key] = (expiry, memory)
    if old is not None:
        old[1].close()
    return str(memory.name)


def forget(path: str | os.PathLike[str]) -> None:
    """Drop what is cached for a scene VRT (it was deleted or replaced)."""
    key = str(path)
    _sources.pop(key, None)
    with _lock:
        old = _signed.pop(key, None)
    if old is not None:
        old[1].close()
