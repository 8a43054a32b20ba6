"""Receive a multipart upload straight to disk, refusing it as early as possible.

Starlette's own form parsing reads the whole body (spooling files to the system temp folder)
before the endpoint runs, so a 50 GiB body would be stored before the size limit could refuse
it, and a wrong file type would be found only after the whole transfer. This parser streams the
request body: file bytes go in 1 MiB writes (off the event loop) to a private folder in the
scratch area (same filesystem as the data, so nothing is copied across disks later), the size
limit is enforced as bytes arrive, and the file type is checked from its first bytes. Memory
stays at about one write buffer whatever the upload size. An ``Allowance`` (the user's storage
quota, as a reservation) is enforced the same way: counted on the bytes that arrive, whatever
the Content-Length said or whether there was one.

``received_upload`` owns the folder (``upload-<process>-<nonce>``, ``tileserver.scratch``): it
is deleted when the block exits, success or not, and a client that disconnects mid-upload
leaves nothing behind either; a killed server's folder is removed by the scratch sweep.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from tileserver.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from tileserver.ingest.detect import HEAD_BYTES
from tileserver.scratch import scratch_name

logger = logging.getLogger("cogsight.upload")

WRITE_CHUNK = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 32
FORM_OVERHEAD = 1024 * 1024
"""Room for boundaries and text fields when judging a request by its Content-Length: a body
longer than ``limit + FORM_OVERHEAD`` cannot carry a file within the limit (the accepted fields
are a handful of at most 64 KiB each), so it is refused before a byte is read."""

HeadCheck = Callable[[bytes, str], object]


class Allowance(Protocol):
    """What a quota lets one upload store: ``allowed`` bytes without asking; past them,
    ``grow(size)`` (blocking; run in the thread pool) raises to refuse the upload or makes
    ``allowed`` at least ``size``."""

    @property
    def allowed(self) -> int: ...

    def grow(self, size: int) -> None: ...


@dataclass
class ReceivedUpload:
    """A multipart body on disk: the one file part and the small text fields."""

    folder: Path
    path: Path | None = None
    filename: str = ""
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The upload is larger than the limit of {human_bytes(limit)} ({limit} bytes, "
        "COGSIGHT_MAX_UPLOAD_BYTES)."
    )


def safe_filename(name: str) -> str:
    """The client's file name reduced to a harmless basename that keeps its extension."""
    base = re.split(r"[\\/]", name)[-1].strip().strip(".")
    base = re.sub(r"[^\w.\-]+", "_", base)[-120:]
    return base or "upload"


def check_content_length(value: str | None, limit: int) -> None:
    """Refuse up front a body whose declared length cannot hold a file under the limit."""
    if value is None:
        return
    try:
        declared = int(value)
    except ValueError:
        raise InvalidInput("Content-Length is not a number.") from None
    if declared > limit + FORM_OVERHEAD:
        raise too_large(limit)


class _Receiver:
    """python-multipart callbacks writing the file part to disk and keeping the fields."""

    def __init__(
        self,
        upload: ReceivedUpload,
        max_bytes: int,
        file_field: str,
        allowed_fields: frozenset[str],
        check_head: HeadCheck | None,
        allowance: Allowance | None = None,
    ) -> None:
        self.upload = upload
        self.max_bytes = max_bytes
        self.allowance = allowance
        self.file_field = file_field
        self.allowed_fields = allowed_fields
        self.check_head = check_head
        self.head_checked = False
        self.pending = bytearray()
        self.file: BinaryIO | None = None
        self.finished = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._part_name = ""
        self._in_file = False
        self._field_data = bytearray()

    # python-multipart callbacks ------------------------------------------------------------
    def on_part_begin(self) -> None:
        self._disposition = b""
        self._in_file = False
        self._field_data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise InvalidInput("A multipart part has no name in its Content-Disposition.")
        self._part_name = _decode(options[b"name"])
        if self._part_name == self.file_field:
            if self.file is not None or self.upload.path is not None:
                raise InvalidInput(f"Send one file per upload (one '{self.file_field}' part).")
            self.upload.filename = _decode(options.get(b"filename", b"")) or "upload"
            self.upload.path = self.upload.folder / safe_filename(self.upload.filename)
            self.file = self.upload.path.open("wb")
            self._in_file = True
        elif self._part_name not in self.allowed_fields:
            known = ", ".join([self.file_field, *sorted(self.allowed_fields)])
            raise InvalidInput(f"Unknown form field '{self._part_name}'; accepted: {known}.")
        elif len(self.upload.fields) >= MAX_FIELDS or self._part_name in self.upload.fields:
            raise InvalidInput(f"Form field '{self._part_name}' is repeated.")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.upload.size += end - start
            if self.upload.size > self.max_bytes:
                raise too_large(self.max_bytes)
            self.pending += data[start:end]
            return
        self._field_data += data[start:end]
        if len(self._field_data) > MAX_FIELD_BYTES:
            raise InvalidInput(f"Form field '{self._part_name}' is longer than 64 KiB.")

    def on_part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._check_head(final=True)
        else:
            self.upload.fields[self._part_name] = _decode(bytes(self._field_data))

    def on_end(self) -> None:
        self.finished = True

    # -------------------------------------------------------------------------------------
    def _check_head(self, final: bool = False) -> None:
        """Run the type check once the first bytes (or the whole short file) are in."""
        if self.head_checked or self.check_head is None or self.file is None:
            return
        if final or len(self.pending) >= HEAD_BYTES:
            self.head_checked = True
            self.check_head(bytes(self.pending[:HEAD_BYTES]), self.upload.filename)

    async def flush(self, force: bool = False) -> None:
        """Write buffered file bytes in the thread pool once a chunk's worth is waiting; bytes
        past the allowance are written only once it has grown to hold them."""
        self._check_head()
        if self.allowance is not None and self.upload.size > self.allowance.allowed:
            await run_in_threadpool(self.allowance.grow, self.upload.size)
        if self.file is not None and self.pending and (force or len(self.pending) >= WRITE_CHUNK):
            await run_in_threadpool(self.file.write, self.pending)
            self.pending = bytearray()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }


def _decode(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _boundary(content_type: str | None) -> bytes:
    media, params = parse_options_header(content_type or "")
    if media != b"multipart/form-data":
        raise UnsupportedMediaType(
            f"Send the upload as multipart/form-data with a 'file' field, not "
            f"'{media.decode('latin-1') or 'no content type'}'."
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidInput("The multipart/form-data Content-Type has no boundary.")
    return boundary


async def receive_multipart(
    stream: AsyncIterator[bytes],
    content_type: str | None,
    folder: Path,
    max_bytes: int,
    *,
    file_field: str = "file",
    fields: frozenset[str] = frozenset(),
    check_head: HeadCheck | None = None,
    allowance: Allowance | None = None,
) -> ReceivedUpload:
    """Parse a multipart body from ``stream``, writing its ``file_field`` part under ``folder``.

    ``check_head(first_bytes, filename)`` runs as soon as the file's first bytes arrive and may
    raise to refuse the upload before the rest is sent. Raises ``PayloadTooLarge`` the moment
    the file passes ``max_bytes``, ``InvalidInput`` for a malformed or incomplete body, and
    whatever ``allowance.grow`` raises (``QuotaExceeded``) once the file passes its allowance.
    """
    boundary = _boundary(content_type)
    upload = ReceivedUpload(folder=folder)
    receiver = _Receiver(upload, max_bytes, file_field, fields, check_head, allowance)
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in stream:
            parser.write(chunk)
            await receiver.flush()
        parser.finalize()
        await receiver.flush(force=True)
    except FormParserError as exc:
        raise InvalidInput(f"The multipart body is malformed: {exc}") from None
    finally:
        receiver.close()
    if not receiver.finished:
        raise InvalidInput("The upload ended before the multipart body was complete.")
    if upload.path is None:
        raise InvalidInput(f"No file in the upload: send it as the multipart field '{file_field}'.")
    return upload


@asynccontextmanager
async def received_upload(
    stream: AsyncIterator[bytes],
    content_type: str | None,
    scratch: Path,
    max_bytes: int,
    *,
    file_field: str = "file",
    fields: frozenset[str] = frozenset(),
    check_head: HeadCheck | None = None,
    allowance: Allowance | None = None,
) -> AsyncIterator[ReceivedUpload]:
    """``receive_multipart`` into a fresh folder under ``scratch``, deleted when the block ends.

    Deletion happens whatever ends the block: success, a refusal, an exception while the file
    is ingested, or the client going away (Starlette's ``ClientDisconnect``) mid-transfer.
    """
    folder = scratch / scratch_name("upload")  # this process's: the sweep keeps it while it runs
    folder.mkdir(parents=True)
    try:
        yield await receive_multipart(
            stream,
            content_type,
            folder,
            max_bytes,
            file_field=file_field,
            fields=fields,
            check_head=check_head,
            allowance=allowance,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
