"""Publishing: where finished dataset files go, the local data root or S3-compatible storage.

The storage is chosen from ``COGSIGHT_STORAGE_URL`` the way cogeo-mosaic picks a backend
from a URL: unset means ``<data>/<key>`` on local disk (renamed into place atomically);
``s3://bucket/prefix`` means objects under that prefix, uploaded with multipart transfers
(an object appears whole when its upload completes, or not at all), then read by GDAL with
range requests through ``/vsis3/``. Work files (uploads in flight, COG conversion, job
blocks) always stay in local scratch space; only finished files are published.

Not to be confused with ``sources`` (reading: catalog URI → GDAL path), ``storage`` (atomic
local writes in scratch, renamed into place), ``vectors.store`` (a vector dataset's files) or
``processing.models.sources`` (a model's bands); see "Where the bytes live" in
docs/architecture.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from tileserver.errors import InvalidInput
from tileserver.settings import Settings

MULTIPART_THRESHOLD = 64 * 1024 * 1024


class ObjectStore(Protocol):
    def publish(self, local: Path, key: str) -> str:
        """Move/upload the finished file ``local`` to ``key``; its catalog URI."""
        ...

    def delete(self, uri: str) -> None: ...

    def size(self, uri: str) -> int: ...


class LocalStore:
    def __init__(self, settings: Settings) -> None:
        self.root = settings.data_dir

    def publish(self, local: Path, key: str) -> str:
        dst = self.root / key
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, dst)
        return key

    def delete(self, uri: str) -> None:
        (self.root / uri).unlink(missing_ok=True)

    def size(self, uri: str) -> int:
        path = self.root / uri
        return path.stat().st_size if path.is_file() else 0


def s3_client(settings: Settings, public: bool = False) -> Any:
    """A boto3 S3 client configured like GDAL is (endpoint, https, path-style, keys); with
    ``public``, addressed at the URL clients reach (``COGSIGHT_S3_PUBLIC_URL``) so that the
    URLs it presigns resolve, and verify, outside the servers' network."""
    import boto3
    from botocore.config import Config

    endpoint = None
    if settings.s3_endpoint:
        scheme = "https" if settings.s3_https else "http"
        endpoint = f"{scheme}://{settings.s3_endpoint}"
    if public and settings.s3_public_url:
        endpoint = settings.s3_public_url.rstrip("/")
    style = "virtual" if settings.s3_virtual_hosting else "path"
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": style},
            retries={"max_attempts": 5},
        ),
    )


class S3Store:
    def __init__(self, settings: Settings, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise InvalidInput(f"COGSIGHT_STORAGE_URL must look like s3://bucket/prefix: {url}")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.client = s3_client(settings)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def publish(self, local: Path, key: str) -> str:
        from boto3.s3.transfer import TransferConfig

        full = self._key(key)
        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, use_threads=True)
        try:
            self.client.upload_file(str(local), self.bucket, full, Config=config)
        finally:
            local.unlink(missing_ok=True)
        return f"s3://{self.bucket}/{full}"

    def _split(self, uri: str) -> tuple[str, str]:
        parsed = urlparse(uri)
        return parsed.netloc, parsed.path.lstrip("/")

    def delete(self, uri: str) -> None:
        bucket, key = self._split(uri)
        self.client.delete_object(Bucket=bucket, Key=key)

    def size(self, uri: str) -> int:
        bucket, key = self._split(uri)
        try:
            return int(self.client.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except Exception:  # a missing object costs nothing
            return 0


def object_store(settings: Settings) -> ObjectStore:
    url = getattr(settings, "storage_url", None)
    if url:
        return S3Store(settings, url)
    return LocalStore(settings)


def stored_here(uri: str, settings: Settings) -> bool:
    """True for objects this deployment published to its own S3 storage."""
    url: str | None = getattr(settings, "storage_url", None)
    return url is not None and uri.startswith(url.rstrip("/") + "/")


def delete_stored(uri: str, settings: Settings) -> None:
    """Remove an object this deployment published (``stored_here``); anything else is left
    alone. Deleting a missing object is no error, so a retried delete is harmless."""
    if stored_here(uri, settings):
        object_store(settings).delete(uri)


def presigned_url(uri: str, settings: Settings, filename: str, seconds: int = 900) -> str:
    """A time-limited GET URL for an object of ours, downloaded under ``filename``."""
    parsed = urlparse(uri)
    return str(
        s3_client(settings, public=True).generate_presigned_url(
            "get_object",
            Params={
                "Bucket": parsed.netloc,
                "Key": parsed.path.lstrip("/"),
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=seconds,
        )
    )
