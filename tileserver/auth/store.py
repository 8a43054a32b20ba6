"""Users and API tokens in the catalog database.

Tokens are 256-bit random strings shown once; only their SHA-256 is stored. A fast hash is
right here (unlike for passwords): the token's own entropy makes guessing hopeless, and every
tile request must check one cheaply.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sqlalchemy import func, select, update

from tileserver.auth.schemas import Quotas, User
from tileserver.auth.tables import TokenRow, UserRow
from tileserver.catalog import Catalog
from tileserver.catalog.repository import new_id, utcnow
from tileserver.errors import AlreadyExists, InvalidInput, NotFoundError
from tileserver.settings import Settings

TOKEN_PREFIX = "cs_"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def default_quotas(settings: Settings) -> Quotas:
    return Quotas(
        storage_bytes=settings.quota_storage_bytes,
        compute_seconds=settings.quota_compute_seconds,
        download_bytes=settings.quota_download_bytes,
        task_pixels=settings.quota_task_pixels,
    )


class UserStore:
    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings

    def _user(self, row: UserRow) -> User:
        quotas = default_quotas(self.settings).model_copy(update=row.quotas or {})
        created = row.created if row.created.tzinfo else row.created.replace(tzinfo=dt.UTC)
        return User(id=row.id, name=row.name, is_admin=row.is_admin, quotas=quotas, created=created)

    def count(self) -> int:
        with self.catalog.session() as s:
            return int(s.scalar(select(func.count()).select_from(UserRow)) or 0)

    def add(
        self, name: str, *, is_admin: bool = False, quotas: dict[str, Any] | None = None
    ) -> User:
        import re

        if not re.match(NAME_PATTERN, name):
            raise InvalidInput(f"User names are letters, digits and ._@- (not {name!r}).")
        overrides = Quotas.model_validate(
            default_quotas(self.settings).model_dump() | (quotas or {})
        ).model_dump(include=set(quotas or {}))
        with self.catalog.session() as s:
            if s.scalar(select(UserRow).where(UserRow.name == name)) is not None:
                raise AlreadyExists(f"A user named '{name}' exists.")
            row = UserRow(
                id=new_id(), name=name, is_admin=is_admin, quotas=overrides, created=utcnow()
            )
            s.add(row)
        return self._user(row)

    def set_quotas(self, name: str, quotas: dict[str, Any]) -> User:
        with self.catalog.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise NotFoundError(f"No user named '{name}'.")
            merged = {**(row.quotas or {}), **quotas}
            Quotas.model_validate(default_quotas(self.settings).model_dump() | merged)
            row.quotas = merged
        return self.get_by_name(name)

    def get(self, user_id: str) -> User:
        with self.catalog.session() as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise NotFoundError(f"No user with id '{user_id}'.")
            return self._user(row)

    def get_by_name(self, name: str) -> User:
        with self.catalog.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise NotFoundError(f"No user named '{name}'.")
            return self._user(row)

    def list(self) -> list[User]:
        with self.catalog.session() as s:
            return [self._user(r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]

    def create_token(self, name: str, label: str = "") -> str:
        """A new token for user ``name``; the only time the token itself is seen."""
        user = self.get_by_name(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.catalog.session() as s:
            s.add(
                TokenRow(
                    id=new_id(),
                    user_id=user.id,
                    digest=digest(token),
                    label=label[:128],
                    created=utcnow(),
                    revoked=False,
                )
            )
        return token

    def revoke_tokens(self, name: str) -> int:
        user = self.get_by_name(name)
        with self.catalog.session() as s:
            result = s.execute(
                update(TokenRow)
                .where(TokenRow.user_id == user.id, TokenRow.revoked.is_(False))
                .values(revoked=True)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def authenticate(self, token: str) -> User | None:
        """The user a token belongs to, or None for an unknown or revoked token."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            return None
        with self.catalog.session() as s:
            row = s.scalar(
                select(UserRow)
                .join(TokenRow, TokenRow.user_id == UserRow.id)
                .where(TokenRow.digest == digest(token), TokenRow.revoked.is_(False))
            )
            return self._user(row) if row is not None else None
