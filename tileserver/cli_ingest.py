"""``cogsight ingest PATH...``: register many files the way ``POST /datasets`` does.

Each file goes through ``ingest.upload.ingest_file`` (the upload endpoint's code, minus HTTP),
so a file the command accepts is a file the server would accept, and the other way round. One
bad file does not stop the batch: its reason is printed and the exit code is 2 at the end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from tileserver.catalog import Catalog, DatasetRecord
from tileserver.errors import CogsightError
from tileserver.settings import Settings

FAILED_EXIT_CODE = 2


def _open_catalog(settings: Settings) -> Catalog:
    from tileserver.sources import configure_gdal

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_gdal(settings)
    return Catalog(settings.resolved_database_url)


def _summary(record: DatasetRecord, path: Path) -> str:
    return json.dumps(
        {
            "id": record.id,
            "file": str(path),
            "kind": record.kind,
            "title": record.title,
            "crs": record.crs,
            "bands": record.band_names,
            "bounds": record.bounds,
        },
        ensure_ascii=False,
    )


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Raster (.tif, .img) or vector files.")],
    title: Annotated[
        str | None, typer.Option(help="Title for every file (default: each file's name).")
    ] = None,
    sensor: Annotated[str, typer.Option(help="generic, sentinel-2-l2a, landsat-c2l2, ...")] = (
        "generic"
    ),
    datetime: Annotated[str | None, typer.Option(help="ISO 8601 acquisition time.")] = None,
    bands: Annotated[str | None, typer.Option(help="Comma-separated band names.")] = None,
    cloud_cover: Annotated[float | None, typer.Option(help="Percent.")] = None,
    elevation: Annotated[
        bool | None,
        typer.Option(
            "--elevation/--not-elevation",
            help="Force or refuse reading single-band rasters as DEMs (default: detect).",
        ),
    ] = None,
) -> None:
    """Detect, validate, convert and register files; one JSON line per dataset on stdout."""
    from tileserver.ingest.upload import ingest_file, parse_band_names

    settings = Settings()
    try:
        band_names = parse_band_names(bands)
    except CogsightError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=FAILED_EXIT_CODE) from None
    catalog = _open_catalog(settings)
    failures = 0
    with tqdm(total=len(paths), desc="ingest", unit="file") as bar:
        for path in paths:

            def stage(msg: str, name: str = path.name) -> None:
                bar.set_postfix_str(f"{name}: {msg}")

            try:
                record = ingest_file(
                    catalog,
                    settings,
                    path,
                    title=title,
                    sensor=sensor,
                    datetime_=datetime,
                    band_names=band_names,
                    cloud_cover=cloud_cover,
                    progress=stage,
                    elevation=elevation,
                )
            except CogsightError as exc:
                failures += 1
                tqdm.write(f"error: {path}: {exc}", file=sys.stderr)
            except Exception as exc:  # a batch goes on past any one file
                failures += 1
                tqdm.write(f"error: {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
            else:
                typer.echo(_summary(record, path))
            bar.update(1)
    if failures:
        typer.echo(f"{failures} of {len(paths)} file(s) failed.", err=True)
        raise typer.Exit(code=FAILED_EXIT_CODE)
