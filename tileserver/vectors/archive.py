"""Unpacking a zipped shapefile without trusting the zip.

An uploaded zip is hostile until proven otherwise: member names may climb out of the target
folder (``../../evil.shp``, ``/etc/x``, ``C:\\x``: "zip slip"), and a few kilobytes may inflate
to gigabytes ("zip bomb"). So every name is checked before anything is written, the declared
sizes are summed against a limit, the bytes actually written are counted against the same limit
(declared sizes can lie), and only the members of the one shapefile are extracted, under flat
names chosen here.
"""

from __future__ import annotations

import shutil
import zipfile
import zlib
from collections import defaultdict
from pathlib import Path, PurePosixPath

from tileserver.errors import InvalidInput

# Largest total uncompressed size: ``MAX_RATIO`` times the zip, at least ``MIN_LIMIT`` (a small
# zip of highly compressible .dbf padding is normal) and never more than ``MAX_LIMIT``.
MAX_RATIO = 20
MIN_LIMIT = 256 * 1024**2
MAX_LIMIT = 2 * 1024**3

SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
REQUIRED_PARTS = {
    ".shx": "the shapefile has no .shx (index)",
    ".dbf": "the shapefile has no .dbf (attributes)",
    ".prj": "the shapefile has no .prj (coordinate system)",
}
_CHUNK = 1024 * 1024


def size_limit(zip_size: int) -> int:
    """Total uncompressed bytes a zip of ``zip_size`` bytes may hold."""
    return min(MAX_LIMIT, max(MIN_LIMIT, MAX_RATIO * zip_size))


def _safe_name(name: str) -> PurePosixPath:
    """The member's path, or ``InvalidInput`` if it is absolute or climbs out of the folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    first = path.parts[0] if path.parts else ""
    if path.is_absolute() or ".." in path.parts or first.endswith(":") or "\x00" in name:
        raise InvalidInput(f"The zip holds an unsafe member path: {name!r}.")
    return path


def _is_junk(path: PurePosixPath) -> bool:
    """macOS resource forks and hidden files that archivers add beside the real data."""
    return "__MACOSX" in path.parts or path.name.startswith(".")


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    if not zipfile.is_zipfile(zip_path):
        raise InvalidInput("The file is not a valid zip archive.")
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput("The file is not a valid zip archive.") from exc


def _shapefile_members(infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """The members of the one shapefile, by lower-case extension."""
    sets: dict[str, dict[str, zipfile.ZipInfo]] = defaultdict(dict)
    for info in infos:
        path = _safe_name(info.filename)
        if info.is_dir() or _is_junk(path):
            continue
        suffix = path.suffix.lower()
        if suffix in SHAPEFILE_PARTS:
            stem = str(path.with_suffix("")).lower()
            sets[stem][suffix] = info
    shapefiles = [parts for parts in sets.values() if ".shp" in parts]
    if not shapefiles:
        raise InvalidInput("The zip holds no shapefile (.shp).")
    if len(shapefiles) > 1:
        raise InvalidInput(
            f"The zip holds {len(shapefiles)} shapefiles; upload one shapefile per zip."
        )
    parts = shapefiles[0]
    for suffix, message in REQUIRED_PARTS.items():
        if suffix not in parts:
            raise InvalidInput(message[0].upper() + message[1:] + ".")
    return parts


def _copy_limited(src: zipfile.ZipFile, info: zipfile.ZipInfo, dst: Path, budget: int) -> int:
    """Extract one member to ``dst``; the bytes written, never more than ``budget``."""
    written = 0
    with src.open(info) as reader, dst.open("wb") as writer:
        while chunk := reader.read(_CHUNK):
            written += len(chunk)
            if written > budget:
                raise InvalidInput("The zip inflates to more than the allowed size.")
            writer.write(chunk)
    return written


def extract_shapefile(zip_path: Path, dst_dir: Path) -> Path:
    """Extract the zip's single shapefile into ``dst_dir``; the path of its ``.shp``.

    Raises ``InvalidInput`` for a file that is not a zip, unsafe member names, more than the
    allowed uncompressed size, no or several shapefiles, or a shapefile missing its .shx, .dbf
    or .prj. The caller owns ``dst_dir`` and removes it on failure.
    """
    limit = size_limit(zip_path.stat().st_size)
    with _open_zip(zip_path) as archive:
        infos = archive.infolist()
        for info in infos:  # every name, not only the shapefile's: refuse a hostile zip whole
            _safe_name(info.filename)
        if sum(i.file_size for i in infos) > limit:
            raise InvalidInput("The zip inflates to more than the allowed size.")
        parts = _shapefile_members(infos)
        stem = PurePosixPath(parts[".shp"].filename.replace("\\", "/")).stem
        safe_stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem) or "layer"
        dst_dir.mkdir(parents=True, exist_ok=True)
        budget = limit
        try:
            for suffix, info in parts.items():
                budget -= _copy_limited(archive, info, dst_dir / f"{safe_stem}{suffix}", budget)
        except (zipfile.BadZipFile, zlib.error, RuntimeError, EOFError) as exc:
            # RuntimeError: encrypted member; BadZipFile: CRC or structure errors.
            shutil.rmtree(dst_dir, ignore_errors=True)
            raise InvalidInput("The zip archive is corrupt or encrypted.") from exc
        except InvalidInput:
            shutil.rmtree(dst_dir, ignore_errors=True)
            raise
    return dst_dir / f"{safe_stem}.shp"
