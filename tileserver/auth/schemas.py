"""Users, who is asking (the principal), quotas and usage, as pydantic models."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

GB = 1000**3


class Quotas(BaseModel):
    """Per-user limits; defaults follow AI Earth's (settings can change the defaults, and each
    user can carry overrides)."""

    storage_bytes: int = Field(default=300 * GB, ge=0, description="Stored datasets, bytes.")
    compute_seconds: int = Field(
        default=10 * 3600, ge=0, description="AI compute per month (successful model jobs)."
    )
    download_bytes: int = Field(default=100 * GB, ge=0, description="Downloads per month.")
    task_pixels: int = Field(
        default=100_000 * 100_000, ge=1, description="Largest AI task, width x height pixels."
    )


class User(BaseModel):
    id: str
    name: str
    is_admin: bool = False
    quotas: Quotas
    created: dt.datetime


class Principal(BaseModel):
    """Who a request acts for. ``user`` None means anonymous; ``single_user`` means no users
    exist yet and the request acts as the local administrator."""

    user: User | None = None
    single_user: bool = False

    @property
    def id(self) -> str | None:
        return self.user.id if self.user else None

    @property
    def is_admin(self) -> bool:
        return self.single_user or bool(self.user and self.user.is_admin)

    @property
    def anonymous(self) -> bool:
        return self.user is None and not self.single_user


class QuotaUse(BaseModel):
    used: int
    limit: int
    left: int


class Usage(BaseModel):
    """What a user has used of each quota; monthly ones count from ``period_start``, the
    latest monthly anniversary of the user's registration day."""

    user: str
    period_start: dt.datetime
    period_end: dt.datetime
    storage_bytes: QuotaUse
    compute_seconds: QuotaUse
    download_bytes: QuotaUse
    task_pixels_limit: int
