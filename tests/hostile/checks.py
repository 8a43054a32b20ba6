"""What every hostile case asserts: a 4xx (never a 5xx) with a JSON ``code`` and ``detail`` that
does not echo server paths, and, for uploads, nothing left behind."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

Status = int | Collection[int]


def assert_refused(
    response: Any,
    status: Status,
    code: str | None = None,
    *,
    needle: str | None = None,
    json_body: bool = True,
    hidden: Collection[str] = (),
) -> None:
    """``response`` is one of ``status`` (all 4xx), with the app's error body when ``json_body``."""
    allowed = {status} if isinstance(status, int) else set(status)
    assert all(400 <= s < 500 for s in allowed)
    text = response.text[:600]
    assert response.status_code in allowed, f"{response.status_code}: {text}"
    if json_body:
        body = response.json()
        assert isinstance(body, dict) and {"code", "detail"} <= set(body), text
        if code is not None:
            assert body["code"] == code, text
        if needle is not None:
            assert needle in str(body["detail"]), text
    for secret in hidden:
        assert secret not in response.text, f"the answer names {secret!r}: {text}"


@dataclass(frozen=True)
class DataState:
    """Files under a data dir and the dataset ids. The catalog database and lock files (an
    edit's ``flock`` target, created empty by the first attempt and kept) are not data."""

    files: frozenset[str]
    ids: frozenset[str]

    def debris(self) -> list[str]:
        return sorted(f for f in self.files if f.endswith(".partial") or f.startswith(".tmp/"))


def data_state(app: FastAPI) -> DataState:
    data_dir: Path = app.state.settings.data_dir
    files = frozenset(
        p.relative_to(data_dir).as_posix()
        for p in data_dir.rglob("*")
        if not p.name.startswith("catalog.db")
        and not p.name.endswith(".lock")
        and (p.is_file() or p.is_symlink())
    )
    ids = frozenset(d.id for d in app.state.catalog.find_datasets())
    return DataState(files, ids)


def assert_unchanged(app: FastAPI, before: DataState) -> None:
    after = data_state(app)
    assert after.ids == before.ids, f"datasets added: {sorted(after.ids - before.ids)}"
    assert after.files == before.files, f"left behind: {sorted(after.files ^ before.files)}"
    assert not after.debris(), after.debris()


def assert_added_one(app: FastAPI, before: DataState) -> str:
    """Exactly one new dataset whose files all sit under its own id; no scratch debris."""
    after = data_state(app)
    added = after.ids - before.ids
    assert len(added) == 1, f"datasets added: {sorted(added)}"
    (new_id,) = added
    new_files = after.files - before.files
    assert after.files >= before.files
    assert all(new_id in f for f in new_files), sorted(new_files)
    assert not after.debris(), after.debris()
    return new_id
