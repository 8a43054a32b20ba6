"""``cogsight dataset|mosaic rename|describe|visibility|delete``: managing data on the server.

The same services as ``PATCH``/``DELETE /datasets/{id}`` and ``/mosaics/{id}``
(``tileserver.manage``), acting as an administrator: the command line runs on the server, with
its data folder and database. Caches of running API processes catch up within seconds (their
record caches expire); their tiles of a deleted dataset stop with the record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError

from tileserver.errors import CogsightError
from tileserver.settings import Settings

dataset_app = typer.Typer(
    help="Rename, describe, publish/hide or delete a dataset.", no_args_is_help=True
)
mosaic_app = typer.Typer(
    help="Rename, describe, publish/hide or delete a mosaic.", no_args_is_help=True
)

Ident = Annotated[str, typer.Argument(help="The id (cogsight datasets / GET /mosaics).")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Visibility = Annotated[Literal["public", "private"], typer.Argument(help="public or private.")]


def add_manage_commands(app: typer.Typer) -> None:
    """Register ``cogsight dataset ...`` and ``cogsight mosaic ...`` on the main app."""
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(mosaic_app, name="mosaic")


def _context() -> tuple[Any, Settings, Any]:
    from tileserver.auth.schemas import Principal
    from tileserver.catalog import Catalog

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Catalog(settings.resolved_database_url), settings, Principal(single_user=True)


def _run(action: Callable[[], Any]) -> Any:
    """``action()``, with cogsight's errors and invalid values as ``error: ...`` (exit 2)."""
    try:
        return action()
    except CogsightError as exc:
        message = str(exc)
    except ValidationError as exc:
        message = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _changes(**fields: Any) -> Any:
    from tileserver.manage import Changes

    return Changes.model_validate(fields)


def _show(record: Any, description: str | None) -> None:
    out = {"id": record.id, "title": record.title, "visibility": record.visibility}
    typer.echo(json.dumps({**out, "description": description}))


def _change_dataset(ident: str, **fields: Any) -> None:
    from tileserver.manage import change_dataset

    catalog, settings, admin = _context()
    record = _run(lambda: change_dataset(catalog, settings, admin, ident, _changes(**fields)))
    _show(record, record.properties.get("description"))


def _change_mosaic(ident: str, **fields: Any) -> None:
    from tileserver.manage import change_mosaic

    catalog, settings, admin = _context()
    record = _run(lambda: change_mosaic(catalog, settings, admin, ident, _changes(**fields)))
    _show(record, record.mosaicjson.get("description"))


def _confirm(what: str, ident: str, title: str, yes: bool) -> None:
    if not yes and not typer.confirm(f"Delete {what} {ident} ({title})?", default=False):
        typer.echo("nothing deleted", err=True)
        raise typer.Exit(code=1)


@dataset_app.command("rename")
def dataset_rename(ident: Ident, title: Annotated[str, typer.Argument()]) -> None:
    """Give a dataset a new title (1-200 characters)."""
    _change_dataset(ident, title=title)


@dataset_app.command("describe")
def dataset_describe(ident: Ident, text: Annotated[str, typer.Argument()]) -> None:
    """Set a dataset's description (up to 10,000 characters; "" removes it)."""
    _change_dataset(ident, description=text)


@dataset_app.command("visibility")
def dataset_visibility(ident: Ident, visibility: Visibility) -> None:
    """Make a dataset public or private."""
    _change_dataset(ident, visibility=visibility)


@dataset_app.command("delete")
def dataset_delete(ident: Ident, yes: Yes = False) -> None:
    """Delete a dataset with its files and objects (not while a job or a mosaic uses it)."""
    from tileserver.manage import delete_dataset

    catalog, settings, admin = _context()
    record = _run(lambda: catalog.get_dataset(ident))
    _confirm("dataset", record.id, record.title, yes)
    _run(lambda: delete_dataset(catalog, settings, admin, record.id))
    typer.echo(json.dumps({"deleted": record.id, "title": record.title}))


@mosaic_app.command("rename")
def mosaic_rename(ident: Ident, title: Annotated[str, typer.Argument()]) -> None:
    """Give a mosaic a new title (1-200 characters)."""
    _change_mosaic(ident, title=title)


@mosaic_app.command("describe")
def mosaic_describe(ident: Ident, text: Annotated[str, typer.Argument()]) -> None:
    """Set a mosaic's description (up to 10,000 characters; "" removes it)."""
    _change_mosaic(ident, description=text)


@mosaic_app.command("visibility")
def mosaic_visibility(ident: Ident, visibility: Visibility) -> None:
    """Make a mosaic public or private."""
    _change_mosaic(ident, visibility=visibility)


@mosaic_app.command("delete")
def mosaic_delete(ident: Ident, yes: Yes = False) -> None:
    """Delete a mosaic (its scenes stay)."""
    from tileserver.manage import delete_mosaic

    catalog, settings, admin = _context()
    record = _run(lambda: catalog.get_mosaic(ident))
    _confirm("mosaic", record.id, record.title, yes)
    _run(lambda: delete_mosaic(catalog, settings, admin, record.id))
    typer.echo(json.dumps({"deleted": record.id, "title": record.title}))
