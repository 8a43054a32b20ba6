"""``cogsight harvest SOURCE``: register the items of a STAC API, a static catalog or an items
file, with a progress bar; a killed run continues where it stopped (``--resume RUN_ID``, or the
same command again). Everything goes through ``harvest.service`` (the API's code too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from tqdm import tqdm

from tileserver.errors import CogsightError
from tileserver.settings import Settings

FAILED_EXIT_CODE = 2


def _json_option(value: str | None, what: str) -> dict[str, Any] | None:
    """JSON given inline, or the name of a file holding it."""
    if value is None:
        return None
    text = value
    if not value.lstrip().startswith("{") and Path(value).is_file():
        text = Path(value).read_text(encoding="utf-8")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        raise typer.BadParameter(f"{what} must be JSON (or a file of JSON)") from None
    if not isinstance(parsed, dict):
        raise typer.BadParameter(f"{what} must be a JSON object")
    return parsed


def _bbox(value: str | None) -> list[float] | None:
    if value is None:
        return None
    try:
        return [float(v) for v in value.split(",")]
    except ValueError:
        raise typer.BadParameter("bbox is west,south,east,north") from None


def harvest(
    source: Annotated[
        str | None,
        typer.Argument(
            help="A configured source id, a STAC API URL, a catalog.json, or an "
            "ndjson / ItemCollection file. Optional with --resume."
        ),
    ] = None,
    collections: Annotated[str | None, typer.Option(help="Comma-separated ids.")] = None,
    bbox: Annotated[str | None, typer.Option(help="west,south,east,north (WGS84).")] = None,
    intersects: Annotated[str | None, typer.Option(help="GeoJSON geometry or its file.")] = None,
    datetime: Annotated[str | None, typer.Option(help="Instant or interval (a/b, ../b).")] = None,
    filter: Annotated[str | None, typer.Option(help="CQL2-JSON, inline or a file.")] = None,
    max_items: Annotated[int | None, typer.Option(help="Stop after this many items.")] = None,
    batch_size: Annotated[int, typer.Option(help="Items registered per transaction.")] = 500,
    visibility: Annotated[str, typer.Option(help="public or private.")] = "public",
    resume: Annotated[str | None, typer.Option(help="Continue this run id.")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write the refused items here (.csv, else ndjson).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each page.")] = 30.0,
) -> None:
    """Harvest STAC items into the catalog; prints the run as one JSON line."""
    from tileserver.cli_ingest import _open_catalog
    from tileserver.harvest.options import HarvestOptions
    from tileserver.harvest.report import write_report
    from tileserver.harvest.runs import HarvestRun
    from tileserver.harvest.service import prepare, run_harvest

    settings = Settings()
    catalog = _open_catalog(settings)
    try:
        if resume is not None:
            from tileserver.harvest.runs import RunStore

            run_id = RunStore(catalog).get(resume).id  # an unknown id: one error line, exit 2
        elif source is None:
            raise typer.BadParameter("give SOURCE, or --resume RUN_ID")
        else:
            options = HarvestOptions(
                collections=[c for c in (collections or "").split(",") if c],
                bbox=_bbox(bbox),
                intersects=_json_option(intersects, "--intersects"),
                datetime=datetime,
                filter=_json_option(filter, "--filter"),
                max_items=max_items,
                batch_size=batch_size,
                visibility=visibility,
            )
            run_id = prepare(catalog, settings, source, options).id
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        typer.echo(f"error: {where}: {first['msg']}", err=True)
        raise typer.Exit(code=FAILED_EXIT_CODE) from None
    except CogsightError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=FAILED_EXIT_CODE) from None

    bar = tqdm(desc="harvest", unit="item", dynamic_ncols=True)

    def progress(run: HarvestRun) -> None:
        if run.total is not None:
            expected = min(run.total, run.params.get("max_items") or run.total)
            bar.total = max(expected, run.seen)
        bar.n = run.seen
        bar.set_postfix(
            added=run.added, updated=run.updated, unchanged=run.unchanged, refused=run.refused
        )
        bar.refresh()

    typer.echo(f"run {run_id}", err=True)
    failed: str | None = None
    try:
        # an admin on this machine: items may name local files (the API never allows it)
        run = run_harvest(
            catalog, settings, run_id, progress=progress, timeout=timeout, allow_local=True
        )
    except CogsightError as exc:
        failed = str(exc)
    finally:
        bar.close()
    from tileserver.harvest.runs import RunStore

    run = RunStore(catalog).get(run_id)
    if report is not None:
        written = write_report(catalog, run_id, report)
        typer.echo(f"{written} refused item(s) written to {report}", err=True)
    elif run.refused:
        for r in RunStore(catalog).refusals(run_id, limit=10):
            typer.echo(f"refused {r.item_id}: {r.reason}", err=True)
        if run.refused > 10:
            typer.echo(f"... {run.refused - 10} more (--report FILE lists all)", err=True)
    typer.echo(run.model_dump_json())
    if failed is not None:
        typer.echo(f"error: {failed} (continue with: cogsight harvest --resume {run_id})", err=True)
        raise typer.Exit(code=FAILED_EXIT_CODE)
