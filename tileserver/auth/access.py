"""Who may see and change what: one place for the ownership rules every router applies.

Invisible things answer 404, as if they did not exist: a private dataset's id must not be
probed by others. Visible but not theirs answers 403 on writes.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import ColumnElement, false, or_, true

from tileserver.auth.schemas import Principal
from tileserver.errors import Forbidden, NotFoundError, Unauthorized


class Owned(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def visibility(self) -> str: ...


def can_read(principal: Principal, item: Owned, anonymous_read: bool = True) -> bool:
    if principal.is_admin:
        return True
    if item.visibility == "public":
        return not principal.anonymous or anonymous_read
    return principal.id is not None and item.owner == principal.id


def require_readable(
    principal: Principal, item: Owned, anonymous_read: bool = True, what: str = "Dataset"
) -> None:
    if not can_read(principal, item, anonymous_read):
        raise NotFoundError(f"{what} '{item.id}' not found.")


def require_writer(principal: Principal) -> None:
    """Writes need a user (or single-user mode)."""
    if principal.anonymous:
        raise Unauthorized("This needs an API token: Authorization: Bearer <token>.")


def require_owner(
    principal: Principal, item: Owned, anonymous_read: bool = True, what: str = "Dataset"
) -> None:
    """The owner or an admin may change ``item``; others get 404 (private) or 403 (public)."""
    require_readable(principal, item, anonymous_read, what)
    require_writer(principal)
    if not principal.is_admin and item.owner != principal.id:
        raise Forbidden(f"{what} '{item.id}' belongs to someone else.")


def owns(principal: Principal, owner: str | None) -> bool:
    """Whether ``principal`` may act on something with this owner and no visibility of its own
    (a job, its files): the owner, or an admin. Ownerless things (made in single-user mode or
    by the CLI) are the admin's once users exist; anonymous callers own nothing."""
    if principal.is_admin:
        return True
    return owner is not None and principal.id is not None and owner == principal.id


def owner_of_new(principal: Principal) -> str | None:
    """The owner recorded on something a request creates."""
    return principal.id


class Viewer:
    """What one request may see, as a Python check and as a SQL condition on datasets."""

    def __init__(self, principal: Principal, anonymous_read: bool = True) -> None:
        self.principal = principal
        self.anonymous_read = anonymous_read

    def sees(self, item: Owned) -> bool:
        return can_read(self.principal, item, self.anonymous_read)

    def datasets_clause(self) -> ColumnElement[bool]:
        from tileserver.catalog.tables import DatasetRow

        if self.principal.is_admin:
            return true()
        public = DatasetRow.visibility == "public"
        if self.principal.anonymous:
            return public if self.anonymous_read else false()
        return or_(public, DatasetRow.owner == self.principal.id)
