"""Users, API tokens, ownership and quotas.

Until the first user is created a deployment runs in *single-user mode*: every request acts
as the local administrator, so `make serve` works with no setup. Once `cogsight user add` has
created a user, every write needs a token (`Authorization: Bearer …` or `?access_token=` for
tile URLs GIS clients call), private data is visible to its owner only, and anonymous
requests read public data when `COGSIGHT_ANONYMOUS_READ` is on.
"""

from tileserver.auth.access import can_read, require_owner, require_readable
from tileserver.auth.schemas import Principal, Quotas, Usage, User
from tileserver.auth.store import UserStore

__all__ = [
    "Principal",
    "Quotas",
    "Usage",
    "User",
    "UserStore",
    "can_read",
    "require_owner",
    "require_readable",
]
