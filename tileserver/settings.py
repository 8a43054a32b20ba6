"""One settings object for the whole server, read from ``COGSIGHT_*`` environment variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Basemap(BaseModel):
    """A base map the viewer offers beside its bundled offline one (``COGSIGHT_BASEMAPS``). The
    ``key`` is configuration, not a secret: it is written into the URL every browser fetches."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    title: str = Field(min_length=1, max_length=200)
    type: Literal["xyz", "wmts"]
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="http(s):// or a path on this server; XYZ: {z}/{x}/{y} (and {s}); WMTS: "
        "the service endpoint, or a RESTful template with {TileMatrix}/{TileRow}/{TileCol}.",
    )
    attribution: str = Field(default="", max_length=2000)
    layer: str | None = Field(default=None, max_length=200, description="WMTS layer.")
    tileMatrixSet: str | None = Field(default=None, max_length=200, description="WMTS.")
    format: str | None = Field(default=None, max_length=100, description="WMTS image type.")
    key: str | None = Field(default=None, max_length=500, description="Replaces {key} in url.")

    @field_validator("url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "/")) or value.startswith("//"):
            raise ValueError("url must start with http://, https:// or / (a path on this server)")
        return value

    @model_validator(mode="after")
    def _wmts_layer(self) -> Basemap:
        if self.type == "wmts" and not self.layer:
            raise ValueError(f"base map {self.id!r}: a WMTS base map needs its layer")
        return self

    def resolved_url(self) -> str:
        """The URL with ``{key}`` replaced (what the viewer fetches)."""
        return self.url.replace("{key}", self.key) if self.key else self.url


class StacSource(BaseModel):
    """A remote STAC archive an admin configures (``COGSIGHT_STAC_SOURCES``): harvested with
    ``cogsight harvest SOURCE_ID``, searched beside the local catalog when ``federated``.
    Its assets are read in place, still only under ``COGSIGHT_ALLOWED_PREFIXES``; ``signing``
    says how their hrefs are made readable, and ``headers`` / the S3 keys are credentials that
    never appear in a URL, a response or a log."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    title: str = Field(default="", max_length=200)
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="STAC API root (https://...), or a static catalog.json / items file.",
    )
    collections: list[str] = Field(
        default_factory=list, description="Collections offered; empty: all the source has."
    )
    federated: bool = Field(
        default=True, description="List the source in /stac/search and the viewer's search."
    )
    signing: Literal["none", "planetary-computer", "requester-pays"] = Field(
        default="none",
        description="planetary-computer: SAS tokens from the planetary-computer package; "
        "requester-pays: S3 reads send AWS_REQUEST_PAYER=requester.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Sent to the STAC API (e.g. an API key); secret."
    )
    s3_access_key_id: str | None = Field(
        default=None, description="For this source's s3:// assets."
    )
    s3_secret_access_key: str | None = None

    @field_validator("url")
    @classmethod
    def _web_or_file(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "file://", "/")):
            raise ValueError("url must be http(s)://, file:// or an absolute path")
        return value


class Settings(BaseSettings):
    """Everything a deployment can tune. Defaults run on one machine with no setup."""

    model_config = SettingsConfigDict(env_prefix="COGSIGHT_", env_file=None, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1

    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to a SQLite file in data_dir."
    )

    allowed_prefixes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Remote URI prefixes (e.g. s3://bucket/imagery/) that may be registered.",
    )

    storage_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix: publish dataset files to S3-compatible storage "
        "(uploads, conversions, job results) instead of the data dir.",
    )
    s3_endpoint: str | None = Field(default=None, description="host:port of an S3-compatible API.")
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_https: bool = True
    s3_virtual_hosting: bool = False
    s3_public_url: str | None = Field(
        default=None,
        description="Base URL (scheme://host:port) that clients reach the object store at, for "
        "presigned downloads, when it differs from the endpoint the servers use (a compose or "
        "cluster network name); default: the servers' endpoint.",
    )

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])

    tile_cache_bytes: int = Field(
        default=256 * 1024 * 1024, description="In-memory LRU tile cache size; 0 turns it off."
    )
    tile_cache_max_age: int = Field(default=3600, description="Cache-Control max-age, seconds.")

    png_zlevel: int = Field(
        default=1, ge=1, le=9, description="zlib level of PNG tiles (1 fast, 9 small)."
    )
    max_upload_bytes: int = Field(
        default=5 * 1024**3, description="Largest accepted upload, bytes (5 GiB)."
    )
    dask_scheduler: str | None = Field(
        default=None, description="tcp://host:port of a Dask scheduler; none starts a local one."
    )
    dask_workers: int = Field(default=2, ge=1, description="Workers of the embedded cluster.")
    job_warm_start: bool = Field(
        default=True,
        description="Start the job cluster as the server starts, its workers importing what "
        "jobs need, so the first job runs as fast as later ones.",
    )
    job_block_size: int = Field(
        default=1024, ge=256, description="Pixels per side of the blocks jobs split rasters into."
    )
    job_stale_seconds: int = Field(
        default=60, description="A running job without a heartbeat this long is re-queued."
    )
    job_max_attempts: int = 2
    scratch_sweep_seconds: float = Field(
        default=600, gt=0, description="How often a server sweeps the scratch area <data>/.tmp."
    )
    scratch_stale_seconds: int = Field(
        default=6 * 3600,
        description="A scratch folder of a process on another host (or of no known owner) "
        "unchanged this long is removed by the sweep.",
    )
    job_gdal_cache_mb: int = Field(
        default=64, description="GDAL block cache per job worker, MiB (bounds worker memory)."
    )
    gdal_cache_mb: int = Field(
        default=256, description="GDAL block cache of an API process, MiB (shared by threads)."
    )
    malloc_arenas: int = Field(
        default=2,
        ge=0,
        description="glibc malloc arenas per API process (0: glibc's default, 8 per core).",
    )
    malloc_mmap_threshold_kib: int = Field(
        default=256,
        ge=0,
        description="Allocations from this size up are mmapped and returned to the system when "
        "freed (0: glibc's sliding default); with few arenas it keeps RSS flat under load.",
    )
    request_threads: int = Field(
        default=16,
        ge=1,
        description="Threads per API process for tiles and other blocking requests; each keeps "
        "its own open datasets, so this bounds memory (anyio's default is 40).",
    )
    max_raster_pixels: int = Field(
        default=100_000 * 100_000, description="Largest raster (width x height) accepted."
    )
    max_job_pixels: int = Field(
        default=100_000 * 100_000,
        ge=1,
        description="Most pixels one job may write (models and training: read); more is a 413 "
        "before the job is queued.",
    )
    max_job_scratch_bytes: int = Field(
        default=200 * 1000**3,
        ge=1,
        description="Most scratch space one job may need (its blocks and COG, uncompressed), "
        "bytes; more is a 413 before the job is queued.",
    )
    export_slots: int = Field(
        default=2,
        ge=0,
        description="Vector exports and large feature pages running at once per API process; "
        "more wait for a slot (0: no limit).",
    )
    analysis_slots: int = Field(
        default=4,
        ge=0,
        description="Statistics, previews, bbox/feature images and large WMS maps running at "
        "once per API process; more wait for a slot (0: no limit).",
    )
    client_heavy_requests: int = Field(
        default=2,
        ge=0,
        description="Exports (and, separately, analysis requests) one client (user, else IP) "
        "may have in flight; more is a 429 with Retry-After (0: no limit).",
    )
    heavy_wait_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long an expensive request waits for a slot before a 503 with Retry-After.",
    )
    mosaic_quadkey_zoom_max: int = Field(
        default=12, description="Upper bound for the quadkey zoom of mosaics built here."
    )
    anonymous_read: bool = Field(
        default=True, description="Requests without a token may read public data."
    )
    max_project_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest project request body (POST/PATCH /projects), bytes; more is a 413.",
    )
    max_json_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest JSON request body of process executions, mosaics, STAC searches "
        "and vector feature edits, bytes; more is a 413 (uploads have their own limit).",
    )
    max_vector_fields: int = Field(
        default=1000,
        ge=1,
        description="Most attribute fields an uploaded vector layer may have (a GeoPackage "
        "download holds at most 1,998); more is a 400.",
    )
    quota_storage_bytes: int = Field(default=300 * 1000**3, description="Default per user.")
    quota_compute_seconds: int = Field(
        default=10 * 3600, description="Default AI compute seconds per user and month."
    )
    quota_download_bytes: int = Field(
        default=100 * 1000**3, description="Default download bytes per user and month."
    )
    quota_task_pixels: int = Field(
        default=100_000 * 100_000, description="Default largest AI task (pixels) per user."
    )
    viewer_dir: Path = Field(
        default_factory=lambda: Path(__file__).resolve().parent.parent / "viewer",
        description="Folder of the CesiumJS viewer (index.html, src/, dist/cesium).",
    )
    basemaps: list[Basemap] = Field(
        default_factory=list,
        description="Base maps the viewer offers beside the bundled offline Natural Earth II, "
        "as a JSON list of {id, title, type: xyz|wmts, url, attribution, layer?, "
        "tileMatrixSet?, format?, key?}.",
    )

    stac_sources: list[StacSource] = Field(
        default_factory=list,
        description="Remote STAC archives, as a JSON list of {id, title, url, collections?, "
        "federated?, signing?: none|planetary-computer|requester-pays, headers?, "
        "s3_access_key_id?, s3_secret_access_key?}.",
    )

    stac_source_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long a federated search waits for a remote STAC source.",
    )
    places_path: Path | None = Field(
        default=None,
        description="The gazetteer file (default: the one `make places` builds in build/places).",
    )
    max_model_bytes: int = Field(
        default=512 * 1024**2,
        ge=1,
        description="Largest uploaded model file (ONNX / TorchScript), bytes (512 MiB).",
    )

    def stac_source(self, source_id: str) -> StacSource | None:
        """The configured source with this id, or None."""
        return next((s for s in self.stac_sources if s.id == source_id), None)

    @field_validator("stac_sources", "basemaps")
    @classmethod
    def _unique_ids(cls, value: list[StacSource] | list[Basemap], info: ValidationInfo) -> Any:
        """Each configured source or base map is named by its id: an id given twice is an error."""
        ids = [entry.id for entry in value]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            what = "STAC source" if info.field_name == "stac_sources" else "base map"
            raise ValueError(f"{what} ids must be unique: {', '.join(twice)} given twice")
        return value

    @field_validator("allowed_prefixes", "cors_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        """Accept a comma-separated string from the environment as well as a JSON list."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'catalog.db').resolve()}"

    @property
    def cog_dir(self) -> Path:
        """Where registered rasters are written as COGs."""
        return self.data_dir / "cogs"
