"""``cogsight user``: the admin side of users, tokens and quotas (run on the server)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tileserver.errors import CogsightError
from tileserver.settings import Settings

users_app = typer.Typer(help="Users, API tokens and quotas.", no_args_is_help=True)

GB = 1000**3


def _store():  # type: ignore[no-untyped-def]
    from tileserver.auth.store import UserStore
    from tileserver.catalog import Catalog

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return UserStore(Catalog(settings.resolved_database_url), settings)


def _quotas(
    storage_gb: float | None,
    compute_hours: float | None,
    download_gb: float | None,
    task_pixels: int | None,
) -> dict[str, int]:
    out: dict[str, int] = {}
    if storage_gb is not None:
        out["storage_bytes"] = int(storage_gb * GB)
    if compute_hours is not None:
        out["compute_seconds"] = int(compute_hours * 3600)
    if download_gb is not None:
        out["download_bytes"] = int(download_gb * GB)
    if task_pixels is not None:
        out["task_pixels"] = task_pixels
    return out


StorageGB = Annotated[float | None, typer.Option(help="Storage quota, GB (default 300).")]
ComputeHours = Annotated[float | None, typer.Option(help="AI compute per month, hours (10).")]
DownloadGB = Annotated[float | None, typer.Option(help="Downloads per month, GB (100).")]
TaskPixels = Annotated[int | None, typer.Option(help="Largest AI task, pixels (1e10).")]


def _fail(exc: CogsightError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)


@users_app.command("add")
def add(
    name: str,
    admin: Annotated[bool, typer.Option(help="May see and change everything.")] = False,
    storage_gb: StorageGB = None,
    compute_hours: ComputeHours = None,
    download_gb: DownloadGB = None,
    task_pixels: TaskPixels = None,
    token: Annotated[bool, typer.Option(help="Also create and print a token.")] = True,
) -> None:
    """Create a user (the first one ends single-user mode) and print a token."""
    store = _store()
    try:
        user = store.add(
            name,
            is_admin=admin,
            quotas=_quotas(storage_gb, compute_hours, download_gb, task_pixels),
        )
        secret = store.create_token(name, label="created with the user") if token else None
    except CogsightError as exc:
        _fail(exc)
        return
    typer.echo(json.dumps({"id": user.id, "name": user.name, "admin": user.is_admin}))
    if secret:
        typer.echo(secret)


@users_app.command("list")
def list_users() -> None:
    """Users with their quotas."""
    for user in _store().list():
        typer.echo(json.dumps(user.model_dump(mode="json")))


@users_app.command("token")
def token(
    name: str, label: Annotated[str, typer.Option(help="What the token is for.")] = ""
) -> None:
    """Create a new API token for a user and print it (it is shown only once)."""
    try:
        typer.echo(_store().create_token(name, label))
    except CogsightError as exc:
        _fail(exc)


@users_app.command("revoke")
def revoke(name: str) -> None:
    """Revoke every token of a user."""
    try:
        typer.echo(json.dumps({"revoked": _store().revoke_tokens(name)}))
    except CogsightError as exc:
        _fail(exc)


@users_app.command("quota")
def quota(
    name: str,
    storage_gb: StorageGB = None,
    compute_hours: ComputeHours = None,
    download_gb: DownloadGB = None,
    task_pixels: TaskPixels = None,
) -> None:
    """Change a user's quotas."""
    try:
        user = _store().set_quotas(
            name, _quotas(storage_gb, compute_hours, download_gb, task_pixels)
        )
    except CogsightError as exc:
        _fail(exc)
        return
    typer.echo(json.dumps(user.quotas.model_dump()))
