"""``cogsight add-item ITEM.json | items.ndjson``: register STAC items as datasets.

The same service as ``POST /datasets/items`` (``scenes.register.register_items``), run by an
admin on the machine, so asset hrefs may also be local files. One refused item does not stop
the others: each outcome is printed as a JSON line, and the exit code is 2 if any was refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from tileserver.errors import CogsightError, InvalidInput
from tileserver.settings import Settings

FAILED_EXIT_CODE = 2


def read_items(path: Path) -> Iterator[Any]:
    """Items of a file: one item, an ItemCollection / FeatureCollection, or ndjson lines."""
    if path.suffix.lower() in (".ndjson", ".jsonl", ".geojsonl"):
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        raise InvalidInput(f"{path.name} line {number} is not JSON.") from None
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path.name} is not a JSON file: {exc}") from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        yield from data.get("features") or []
    else:
        yield data


def add_item(
    paths: Annotated[list[Path], typer.Argument(help="STAC item .json, ItemCollection or .ndjson")],
    visibility: Annotated[str, typer.Option(help="public or private")] = "public",
    owner: Annotated[str | None, typer.Option(help="User id owning the scenes.")] = None,
) -> None:
    """Register STAC items (bands as separate COG assets, read in place) as datasets."""
    from tileserver.catalog import Catalog
    from tileserver.scenes.register import register_items
    from tileserver.sources import configure_gdal

    if visibility not in ("public", "private"):
        typer.echo("error: --visibility must be public or private", err=True)
        raise typer.Exit(code=FAILED_EXIT_CODE)
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_gdal(settings)
    catalog = Catalog(settings.resolved_database_url)
    refused = 0
    for path in paths:
        try:
            items = list(read_items(path))
        except (CogsightError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            refused += 1
            continue
        outcomes = register_items(
            catalog, settings, items, owner=owner, visibility=visibility, allow_local=True
        )
        for outcome in outcomes:
            typer.echo(outcome.model_dump_json(exclude_none=True))
            if outcome.status == "refused":
                typer.echo(f"refused {outcome.item_id}: {outcome.reason}", err=True)
                refused += 1
    if refused:
        raise typer.Exit(code=FAILED_EXIT_CODE)
