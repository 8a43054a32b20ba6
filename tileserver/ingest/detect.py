"""What kind of file is this? Decided by its first bytes, with the extension as a hint.

Content decides: a GeoTIFF renamed ``.dat`` is still a GeoTIFF, and a text file named ``.tif``
is refused with 415 (its bytes are not a format we ingest) before GDAL ever sees it. Vector
formats have weak or shared magic numbers (a ``.zip`` may be anything zipped, JSON is text), so
for them the extension selects the format and the first bytes must agree with it.

Only the head of the file is needed, so an upload can be refused after its first kilobytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from tileserver.errors import InvalidInput, UnsupportedMediaType

HEAD_BYTES = 512
"""How many leading bytes ``detect_format`` looks at (it works with fewer at end of file)."""

RASTER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"II*\x00", "GeoTIFF"),
    (b"MM\x00*", "GeoTIFF"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"EHFA_HEADER_TAG", "ERDAS Imagine"),
)

VECTOR_EXTENSIONS: dict[str, str] = {
    ".zip": "zipped shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
}

RASTER_EXTENSIONS: dict[str, str] = {
    ".tif": "GeoTIFF",
    ".tiff": "GeoTIFF",
    ".gtiff": "GeoTIFF",
    ".img": "ERDAS Imagine",
}

# Other formats worth naming in a refusal, so the user learns what they actually sent.
OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "an ELF executable"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x89HDF", "an HDF5/netCDF-4 file"),
    (b"CDF\x01", "a netCDF file"),
    (b"CDF\x02", "a netCDF file"),
)

SUPPORTED = (
    "a GeoTIFF (.tif), an ERDAS Imagine file (.img), or a vector file "
    "(.geojson, .json, .gpkg, or a zipped shapefile .zip)"
)


@dataclass(frozen=True)
class Detected:
    kind: Literal["raster", "vector"]
    format: str


def describe(head: bytes) -> str:
    """A human name for what ``head`` looks like, for error messages."""
    for magic, fmt in RASTER_MAGIC:
        if head.startswith(magic):
            return f"a {fmt} file"
    for magic, name in OTHER_MAGIC:
        if head.startswith(magic):
            return name
    text = _as_text(head)
    if text is None:
        return "unrecognised binary data"
    if text.lstrip().startswith(("{", "[")):
        return "JSON text"
    if text.lstrip().lower().startswith(("<?xml", "<html", "<!doctype")):
        return "XML/HTML text"
    return "plain text"


def _as_text(head: bytes) -> str | None:
    """``head`` decoded when it is text (UTF-8, a cut multi-byte tail allowed), else None."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    text = text.removeprefix("\ufeff")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if not text or printable / len(text) > 0.95 else None


def _vector_content_ok(ext: str, head: bytes) -> bool:
    if ext == ".zip":
        return head.startswith((b"PK\x03\x04", b"PK\x05\x06"))
    if ext == ".gpkg":
        return head.startswith(b"SQLite format 3\x00")
    text = _as_text(head)
    return text is not None and text.lstrip().startswith("{")


def detect_format(head: bytes, filename: str) -> Detected:
    """Classify a file from its first bytes (``HEAD_BYTES`` of them or all of a short file).

    Raises ``InvalidInput`` (400) for an empty file and ``UnsupportedMediaType`` (415) for
    content that is none of the ingested formats, naming what it looks like instead.
    """
    name = PurePath(filename).name or "the file"
    if not head:
        raise InvalidInput(f"'{name}' is empty.")
    for magic, fmt in RASTER_MAGIC:
        if head.startswith(magic):
            return Detected("raster", fmt)
    ext = PurePath(name).suffix.lower()
    if ext in VECTOR_EXTENSIONS:
        fmt = VECTOR_EXTENSIONS[ext]
        if _vector_content_ok(ext, head):
            return Detected("vector", fmt)
        raise UnsupportedMediaType(
            f"'{name}' is named like a {fmt} but its content looks like {describe(head)}."
        )
    if ext in RASTER_EXTENSIONS:
        raise UnsupportedMediaType(
            f"'{name}' is named like a {RASTER_EXTENSIONS[ext]} but its content looks like "
            f"{describe(head)}."
        )
    what = f"'{ext}' file" if ext else "file without an extension"
    raise UnsupportedMediaType(
        f"Unsupported {what} '{name}': its content looks like {describe(head)}. Upload {SUPPORTED}."
    )
