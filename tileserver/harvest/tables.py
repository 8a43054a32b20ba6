"""Harvest runs and their refused items, in the catalog database (revision 0005).

A run row is the whole state of a harvest: its source and parameters, counts, and the cursor
(the next page request, or the file offset) saved after each committed batch, so a killed run
resumes from there, from any process. Credentials are never stored: ``source`` is a configured
source id, a URL without its query and user info, or a file path.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tileserver.catalog.tables import Base
from tileserver.catalog.types import UTCDateTime


class HarvestRunRow(Base):
    __tablename__ = "harvest_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # the same source + parameters give the same key: re-running a command finds its run
    key: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(Text)
    source_kind: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    params: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    cursor: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seen: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # "host:pid" of the process running it: a run whose process is gone from this host is
    # resumable at once, elsewhere once its heartbeat is stale
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)


class HarvestRefusalRow(Base):
    __tablename__ = "harvest_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), index=True)
    item_id: Mapped[str] = mapped_column(Text)
    collection: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
