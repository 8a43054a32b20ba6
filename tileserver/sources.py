"""Reading: the only place that turns a catalog URI into the GDAL path a dataset is read from.

Local datasets are stored under the data root and recorded relative to it; remote ones are
``s3://`` or ``https://`` URIs accepted only under ``COGSIGHT_ALLOWED_PREFIXES``. Clients never
name paths: they name dataset ids, and this module resolves them.

Not to be confused with ``storage`` (atomic writes under the data root), ``objectstore``
(publishing finished files locally or to S3), ``vectors.store`` (a vector dataset's files) or
``processing.models.sources`` (a model's bands); see "Where the bytes live" in
docs/architecture.md.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from tileserver.errors import ForbiddenSource
from tileserver.settings import Settings

REMOTE_SCHEMES = ("s3://", "https://", "http://")


def is_remote(uri: str) -> bool:
    return uri.startswith(REMOTE_SCHEMES)


def check_remote_allowed(uri: str, settings: Settings) -> None:
    """Refuse a remote URI unless it sits under a configured prefix (no ``..`` tricks)."""
    if ".." in PurePosixPath(uri.split("://", 1)[-1]).parts:
        raise ForbiddenSource("Remote URIs may not contain '..'.")
    if not any(uri.startswith(prefix) for prefix in settings.allowed_prefixes):
        raise ForbiddenSource(
            "Remote URI is not under an allowed prefix (set COGSIGHT_ALLOWED_PREFIXES)."
        )


def local_path(uri: str, settings: Settings) -> Path:
    """Absolute path of a data-root-relative URI; refuses anything that escapes the root."""
    root = settings.data_dir.resolve()
    path = (root / uri).resolve()
    if not path.is_relative_to(root):
        raise ForbiddenSource("Path is outside the data root.")
    return path


def gdal_path(uri: str, settings: Settings) -> str:
    """The path GDAL opens for a catalog URI (``/vsis3/`` for S3, ``/vsicurl/`` for HTTP)."""
    if uri.startswith("s3://"):
        return "/vsis3/" + uri[len("s3://") :]
    if uri.startswith(("https://", "http://")):
        return "/vsicurl/" + uri
    if uri.startswith("scenes/") and settings.stac_sources:
        from tileserver.scenes.signing import needs_signing, scene_gdal_path

        if needs_signing(settings):  # a scene of a source that signs its hrefs at read time
            return scene_gdal_path(local_path(uri, settings), settings)
    return str(local_path(uri, settings))


def gdal_config(settings: Settings) -> dict[str, str]:
    """GDAL options tuned for COG serving: no directory listings, merged range reads, caches."""
    config = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "GDAL_CACHEMAX": str(settings.gdal_cache_mb),
        "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        "GDAL_HTTP_MULTIPLEX": "YES",
        "GDAL_HTTP_VERSION": "2",
        "GDAL_INGESTED_BYTES_AT_OPEN": "32768",
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.TIF,.tiff,.TIFF",
        # VSI_CACHE is per open file, and every request thread keeps its own handles: small.
        # Remote reads share /vsicurl/'s process-wide region cache instead.
        "VSI_CACHE": "TRUE",
        "VSI_CACHE_SIZE": str(4 * 1024 * 1024),
        "CPL_VSIL_CURL_CACHE_SIZE": str(128 * 1024 * 1024),
        "GDAL_BAND_BLOCK_CACHE": "HASHSET",
        "PROJ_NETWORK": "OFF",
    }
    if settings.s3_endpoint:
        config["AWS_S3_ENDPOINT"] = settings.s3_endpoint
    config["AWS_HTTPS"] = "YES" if settings.s3_https else "NO"
    config["AWS_VIRTUAL_HOSTING"] = "TRUE" if settings.s3_virtual_hosting else "FALSE"
    config["AWS_REGION"] = settings.s3_region
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        config["AWS_ACCESS_KEY_ID"] = settings.s3_access_key_id
        config["AWS_SECRET_ACCESS_KEY"] = settings.s3_secret_access_key
    elif not os.environ.get("AWS_ACCESS_KEY_ID"):
        config["AWS_NO_SIGN_REQUEST"] = "YES"
    return config


# The options configure_gdal set itself (and their values): a later call replaces those, while
# options the operator put in the environment before the first call always win.
_APPLIED: dict[str, str] = {}
_CONFIGURED = False


def configure_gdal(settings: Settings) -> None:
    """Apply the GDAL options process-wide; explicit environment variables still win.

    Called again with other settings (a second app in one process), it replaces what it set the
    first time and drops what the new settings no longer want (an S3 endpoint, unsigned reads),
    so one app's object store never leaks into the next one's reads.
    """
    global _CONFIGURED
    _CONFIGURED = True
    for key, value in list(_APPLIED.items()):
        if os.environ.get(key) == value:  # still ours (nobody changed it since)
            del os.environ[key]
        del _APPLIED[key]
    for key, value in gdal_config(settings).items():
        if key not in os.environ:
            os.environ[key] = value
            _APPLIED[key] = value


def ensure_gdal_configured() -> None:
    """Configure GDAL from the environment's settings unless this process already was.

    For code that may run in a bare worker process; where an app or a job configured GDAL with
    its own settings, those stay.
    """
    if not _CONFIGURED:
        configure_gdal(Settings())
