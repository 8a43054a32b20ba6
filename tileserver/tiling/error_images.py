"""Errors on image routes as images, for map clients that load tiles into ``<img>`` elements.

A tile that fails with a JSON body is invisible in a browser map: Chrome's opaque-response
blocking drops a JSON answer to an ``<img>`` request, so the map shows a hole and the page gets
no reason. Chrome does draw an *image* body of a 4xx/5xx answer (Leaflet and OpenLayers load
tiles that way), so an image request that fails and asked for an image gets:

* ``outside_bounds`` (no data there): the same 404 with a fully transparent tile of the
  requested size (PNG, or WebP when asked for). Measured in chromium against the real
  libraries: Leaflet, OpenLayers and MapLibre GL JS take it as a loaded, empty tile and report
  no tile error (only the browser's console notes the 404); a ``204`` made Leaflet and
  OpenLayers report a tile error for every empty tile (Leaflet then shows ``errorTileUrl``).
  QGIS draws nothing for any non-2xx answer.
* any other error: the same 4xx/5xx status with a tile that has the status, code and detail
  drawn on it (``Cache-Control: no-store``), in the requested format and size.

Both carry the error in headers: ``X-Error-Code`` and ``X-Error-Detail`` (the JSON body,
``{"code", "detail"}``, ASCII-escaped, tokens redacted). Only requests that *ask* for an image
get one: their ``Accept`` lists an ``image/`` type (a browser's ``<img>``, MapLibre's
``image/webp,*/*``) and ranks ``application/json`` no higher. ``*/*`` alone (curl, GDAL, OWSLib,
httpx, and QGIS, which draws no body of a non-2xx answer anyway) keeps the JSON body, as do raw
formats (``.tif``, ``.npy``, ``.pngraw``, ``.jp2``) and every non-image route. Answers on
image routes vary by ``Accept``.
"""

from __future__ import annotations

import functools
import io
import json
import re
import textwrap

from PIL import Image, ImageDraw, ImageFont
from starlette.requests import Request
from starlette.responses import Response

from tileserver.auth.redact import redact_data

IMAGE_ROUTE = re.compile(
    r"^/(?:raster|mosaics)/[^/]+/"
    r"(?:tiles/[^/]+/[^/]+/[^/]+/(?P<tile>[^/]+)"
    r"|preview(?:\.[^/]+|/(?P<pw>\d+)x(?P<ph>\d+)\.[^/]+)?"
    r"|bbox/[^/]+(?:/(?P<bw>\d+)x(?P<bh>\d+)\.[^/]+)?"
    r"|feature(?:\.[^/]+|/(?P<fw>\d+)x(?P<fh>\d+)\.[^/]+)?)$"
    r"|^/datasets/[^/]+/thumbnail\.png$"
)
"""Routes that answer pictures: tiles (WMTS GetTile resolves to them), previews, bbox and
feature parts, thumbnails."""

PICTURES = {"png": "PNG", "webp": "WEBP", "jpg": "JPEG", "jpeg": "JPEG"}
MEDIA_TYPES = {"PNG": "image/png", "WEBP": "image/webp", "JPEG": "image/jpeg"}
DEFAULT_SIDE = 256
MIN_SIDE, MAX_SIDE = 16, 1024
"""An error image is at most 1,024 px a side whatever size was asked for (a refused
``tilesize=10**9`` must not be drawn)."""
HEADER_DETAIL_CHARS = 500
EMPTY = "outside_bounds"


def _accept(header: str) -> dict[str, float]:
    """``Accept`` as media range -> quality (the highest one given for each range)."""
    ranges: dict[str, float] = {}
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        ranges[media] = max(quality, ranges.get(media, 0.0))
    return ranges


def asks_for_image(accept: str) -> bool:
    """True when ``accept`` lists an ``image/`` type and ranks JSON no higher than it."""
    ranges = _accept(accept)
    image = max((q for m, q in ranges.items() if m.startswith("image/")), default=0.0)
    json_q = max(ranges.get("application/json", 0.0), ranges.get("application/*", 0.0))
    return image > 0 and image > json_q


def _format(path: str) -> str | None:
    """The picture format the path asks for (PNG without an extension); None for raw formats
    and anything else that is not a picture (JSON stays the answer)."""
    last = path.rsplit("/", 1)[-1]
    return PICTURES.get(last.rsplit(".", 1)[-1].lower()) if "." in last else "PNG"


def _side(value: str | None) -> int:
    try:
        side = int(value) if value else DEFAULT_SIDE
    except ValueError:
        side = DEFAULT_SIDE
    return max(MIN_SIDE, min(MAX_SIDE, side))


def _size(request: Request, match: re.Match[str]) -> tuple[int, int]:
    query = request.query_params
    if match.group("tile") is not None:
        side = _side(query.get("tilesize"))
        return side, side
    width = match.group("pw") or match.group("bw") or match.group("fw") or query.get("width")
    height = match.group("ph") or match.group("bh") or match.group("fh") or query.get("height")
    return _side(width), _side(height)


@functools.lru_cache(maxsize=32)
def transparent(width: int, height: int, fmt: str) -> bytes:
    """A fully transparent PNG or WebP image."""
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 0, 0, 0)).save(
        buffer, "WEBP" if fmt == "WEBP" else "PNG"
    )
    return buffer.getvalue()


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def drawn_error(width: int, height: int, fmt: str, lines: list[str]) -> bytes:
    """A tile with a red frame and ``lines`` in white on a dark band (opaque for JPEG)."""
    alpha = fmt != "JPEG"
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0) if alpha else (60, 60, 60, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(220, 40, 40, 255), width=2)
    size = max(8, min(14, width // 22))
    font = _font(size)
    per_line = max(8, int((width - 12) / (size * 0.55)))
    wrapped = [w for line in lines for w in textwrap.wrap(line, per_line) or [""]]
    fit = max(1, (height - 12) // (size + 3))
    if len(wrapped) > fit:
        wrapped = [*wrapped[: fit - 1], wrapped[fit - 1][: per_line - 1] + "…"]
    box = 8 + len(wrapped) * (size + 3)
    draw.rectangle((2, 2, width - 3, min(height - 3, box)), fill=(30, 30, 30, 230))
    for i, text in enumerate(wrapped):
        draw.text((6, 5 + i * (size + 3)), text, fill=(255, 255, 255, 255), font=font)
    buffer = io.BytesIO()
    (image if alpha else image.convert("RGB")).save(buffer, fmt)
    return buffer.getvalue()


def answer(request: Request, status: int, code: str, detail: object, as_json: Response) -> Response:
    """The answer to a failed request: an image where an image route's client asked for one,
    else ``as_json`` (with ``Vary: Accept`` on image routes: the same URL may answer either)."""
    match = IMAGE_ROUTE.match(request.url.path)
    if match is None:
        return as_json
    as_json.headers["Vary"] = "Accept"
    fmt = _format(request.url.path)
    if fmt is None or not asks_for_image(request.headers.get("accept", "")):
        return as_json
    detail = redact_data(detail)
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    short = text if len(text) <= HEADER_DETAIL_CHARS else text[: HEADER_DETAIL_CHARS - 1] + "…"
    headers = {
        "X-Error-Code": code,
        "X-Error-Detail": json.dumps({"code": code, "detail": short}, ensure_ascii=True),
        "Vary": "Accept",
    }
    width, height = _size(request, match)
    if code == EMPTY:
        fmt = "WEBP" if fmt == "WEBP" else "PNG"
        body = transparent(width, height, fmt)
    else:
        body = drawn_error(width, height, fmt, [f"{status} {code}", short])
        headers["Cache-Control"] = "no-store"
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt], headers=headers)
