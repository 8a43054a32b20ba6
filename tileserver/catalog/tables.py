"""SQLAlchemy tables. Plain columns and JSON only, so SQLite and PostgreSQL behave the same.

The schema in a database is made by the Alembic revisions in ``migrations/versions``: a change
here needs a revision too (``python -m tileserver.catalog.migrate revision "what changed"``),
and ``tests/scaleout/test_migrations.py`` fails until there is one.
Free text is ``Text``, never ``String(n)``: PostgreSQL enforces a length SQLite ignores.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tileserver.catalog.types import NaNAsNull, UTCDateTime


class Base(DeclarativeBase):
    pass


class DatasetRow(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    uri: Mapped[str] = mapped_column(Text)
    crs: Mapped[str] = mapped_column(Text)
    west: Mapped[float] = mapped_column(Float, index=True)
    south: Mapped[float] = mapped_column(Float, index=True)
    east: Mapped[float] = mapped_column(Float, index=True)
    north: Mapped[float] = mapped_column(Float, index=True)
    footprint: Mapped[dict] = mapped_column(JSON)
    datetime: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    sensor: Mapped[str] = mapped_column(String(64), index=True)
    band_names: Mapped[list] = mapped_column(JSON)
    dtype: Mapped[str] = mapped_column(String(16))
    nodata: Mapped[float | None] = mapped_column(NaNAsNull, nullable=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    resolution: Mapped[float] = mapped_column(Float)
    minzoom: Mapped[int] = mapped_column(Integer)
    maxzoom: Mapped[int] = mapped_column(Integer)
    reflectance_scale: Mapped[float | None] = mapped_column(NaNAsNull, nullable=True)
    reflectance_offset: Mapped[float | None] = mapped_column(NaNAsNull, nullable=True)
    cloud_cover: Mapped[float | None] = mapped_column(NaNAsNull, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    properties: Mapped[dict] = mapped_column(JSON, default=dict)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Scenes registered from a STAC item (harvested, or added from a remote search): the STAC
    # collection, the archive source they came from, the source's "collection/item" key and a
    # hash of the item as last seen (a re-harvest updates only what changed).
    collection: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    external_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        Index("ux_datasets_source_external_id", "source", "external_id", unique=True),
    )


class MosaicRow(Base):
    __tablename__ = "mosaics"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    dataset_ids: Mapped[list] = mapped_column(JSON)
    band_names: Mapped[list] = mapped_column(JSON)
    west: Mapped[float] = mapped_column(Float)
    south: Mapped[float] = mapped_column(Float)
    east: Mapped[float] = mapped_column(Float)
    north: Mapped[float] = mapped_column(Float)
    minzoom: Mapped[int] = mapped_column(Integer)
    maxzoom: Mapped[int] = mapped_column(Integer)
    quadkey_zoom: Mapped[int] = mapped_column(Integer)
    sensor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reflectance_scale: Mapped[float | None] = mapped_column(NaNAsNull, nullable=True)
    reflectance_offset: Mapped[float | None] = mapped_column(NaNAsNull, nullable=True)
    mosaicjson: Mapped[dict] = mapped_column(JSON)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CollectionSummaryRow(Base):
    """Per (STAC collection, owner, visibility): how many datasets and what they cover, kept
    by triggers on ``datasets`` (revision 0004), so listing collections reads a few rows
    instead of grouping the whole catalog. ``owner`` is '' for datasets without one."""

    __tablename__ = "collection_summaries"

    collection: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    visibility: Mapped[str] = mapped_column(String(16), primary_key=True)
    item_count: Mapped[int] = mapped_column(Integer)
    west: Mapped[float | None] = mapped_column(Float, nullable=True)
    south: Mapped[float | None] = mapped_column(Float, nullable=True)
    east: Mapped[float | None] = mapped_column(Float, nullable=True)
    north: Mapped[float | None] = mapped_column(Float, nullable=True)
    start_datetime: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_datetime: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
