"""The ``cogsight`` command line: serve, demo, add, datasets."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from tileserver.errors import CogsightError
from tileserver.settings import Settings

app = typer.Typer(
    help="cogsight: dynamic tiles, indices and mosaics over a catalog of COGs.",
    no_args_is_help=True,
    add_completion=False,
)


def _catalog(settings: Settings):
    from tileserver.catalog import Catalog
    from tileserver.sources import configure_gdal

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_gdal(settings)
    return Catalog(settings.resolved_database_url)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (COGSIGHT_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (COGSIGHT_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="uvicorn worker processes.")] = None,
    demo: Annotated[bool, typer.Option(help="Create the demo dataset on first run.")] = False,
) -> None:
    """Start the API and viewer."""
    import uvicorn

    for key, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"COGSIGHT_{key}"] = str(value)
    settings = Settings()
    if demo:
        from tileserver.demo.register import ensure_demo

        ensure_demo(_catalog(settings), settings, progress=typer.echo)
    typer.echo(f"cogsight viewer: http://{settings.host}:{settings.port}/")
    typer.echo(f"API docs:        http://{settings.host}:{settings.port}/docs")
    uvicorn.run(
        "tileserver.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        timeout_graceful_shutdown=5,
    )


@app.command("demo")
def demo_cmd() -> None:
    """Generate the synthetic demo scenes and register them (idempotent)."""
    from tileserver.demo.register import ensure_demo

    settings = Settings()
    records = ensure_demo(_catalog(settings), settings, progress=typer.echo)
    for kind, ident, title in records:
        typer.echo(f"{kind:8s} {ident}  {title}")


@app.command()
def add(
    source: Annotated[str, typer.Argument(help="A local raster path, or s3:// / https:// URI.")],
    title: Annotated[str | None, typer.Option()] = None,
    sensor: Annotated[str, typer.Option(help="generic, sentinel-2-l2a, landsat-c2l2, ...")] = (
        "generic"
    ),
    datetime: Annotated[str | None, typer.Option(help="ISO 8601 acquisition time.")] = None,
    bands: Annotated[str | None, typer.Option(help="Comma-separated band names.")] = None,
    cloud_cover: Annotated[float | None, typer.Option(help="Percent.")] = None,
    scale: Annotated[float | None, typer.Option(help="Value-to-reflectance scale.")] = None,
    offset: Annotated[float | None, typer.Option(help="Value-to-reflectance offset.")] = None,
) -> None:
    """Validate a raster, convert it to a COG when needed, and register it."""
    from tileserver.ingest import register_raster

    settings = Settings()
    catalog = _catalog(settings)
    steps = ["inspecting", "converting to COG", "copying COG", "recording metadata", "done"]
    with tqdm(total=4, desc="add", unit="step") as bar:

        def progress(msg: str) -> None:
            bar.set_postfix_str(msg)
            if msg in steps and msg not in ("copying COG",):
                bar.update(1)

        try:
            record = register_raster(
                catalog,
                settings,
                source,
                title=title,
                sensor=sensor,
                datetime_=datetime,
                band_names=[b.strip() for b in bands.split(",")] if bands else None,
                cloud_cover=cloud_cover,
                reflectance_scale=scale,
                reflectance_offset=offset,
                progress=progress,
            )
        except CogsightError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None
        bar.n = bar.total
        bar.refresh()
    typer.echo(
        json.dumps(
            {
                "id": record.id,
                "title": record.title,
                "crs": record.crs,
                "bands": record.band_names,
                "bounds": record.bounds,
            }
        )
    )


@app.command()
def datasets(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the catalog."""
    settings = Settings()
    items = _catalog(settings).find_datasets()
    if as_json:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    for item in items:
        when = item.datetime.date().isoformat() if item.datetime else "-"
        typer.echo(f"{item.id}  {when}  {item.sensor:16s} {len(item.band_names)}b  {item.title}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = ["Path", "app"]
