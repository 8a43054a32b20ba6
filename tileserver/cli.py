"""The ``cogsight`` command line: serve, demo, add, datasets."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Container
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from tileserver.cli_manage import add_manage_commands
from tileserver.cli_models import models_app
from tileserver.cli_users import users_app
from tileserver.cli_worker import worker
from tileserver.errors import CogsightError
from tileserver.settings import Settings

app = typer.Typer(
    help="cogsight: dynamic tiles, indices and mosaics over a catalog of COGs.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(users_app, name="user")
app.add_typer(models_app, name="model")
app.command("worker")(worker)
add_manage_commands(app)


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

    from tileserver.auth.redact import uvicorn_log_config

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
        "tileserver.http.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        log_config=uvicorn_log_config(),  # tokens in URLs never reach the access log
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


def _parse_pairs(pairs: list[str], what: str, text: Container[str]) -> dict[str, object]:
    """``key=value`` pairs, each value read as JSON unless ``text`` holds its key or it is
    not JSON."""
    out: dict[str, object] = {}
    for pair in pairs:
        if "=" not in pair:
            raise typer.BadParameter(f"{what} must be key=value, got '{pair}'")
        key, value = pair.split("=", 1)
        parsed: object = value
        if key not in text:
            with contextlib.suppress(json.JSONDecodeError):  # not JSON: the text as typed
                parsed = json.loads(value)
        if key in out:  # repeated keys build a list: --input datasets=a --input datasets=b
            previous = out[key]
            out[key] = [*previous, parsed] if isinstance(previous, list) else [previous, parsed]
        else:
            out[key] = parsed
    return out


@app.command()
def run(
    process: Annotated[str, typer.Argument(help="Process id, see `cogsight processes`.")],
    inputs: Annotated[
        list[str], typer.Option("--input", "-i", help="Dataset input: key=id (repeatable).")
    ] = [],  # noqa: B006
    params: Annotated[
        list[str], typer.Option("--param", "-p", help="Parameter: key=value (JSON or text).")
    ] = [],  # noqa: B006
    submit: Annotated[
        bool, typer.Option(help="Queue on the Dask cluster instead of running here.")
    ] = False,
) -> None:
    """Run a processing tool or model with a progress bar (or queue it with --submit)."""
    _run_process(process, {}, submit, pairs={"--input": inputs, "--param": params})


def _text_inputs(process: str) -> set[str]:
    """The process's text-only inputs (ids, titles, names): a ``--param`` for one of them is
    kept as written, never read as a number. Unknown process: none (the service says 404)."""
    from tileserver.processing import PROCESSES
    from tileserver.processing.base import text_fields

    if process not in PROCESSES:
        return set()
    return text_fields(PROCESSES.get(process).inputs)


def _run_process(
    process: str, values: dict, submit: bool, pairs: dict[str, list[str]] | None = None
) -> None:
    """Check and create the job through the same service as the API, then run it here (or
    queue it on the scheduler with ``--submit``); a refusal is one ``error:`` line, exit 2.
    ``pairs``: ``key=value`` options by flag, read once the model processes are known."""
    from tileserver.jobs.execute import execute_job
    from tileserver.jobs.store import JobStore
    from tileserver.jobs.submission import COMMAND_LINE, JobRequest, check_job, submit_job
    from tileserver.processing.models import sync_model_processes

    settings = Settings()
    catalog = _catalog(settings)
    sync_model_processes(settings)
    text = _text_inputs(process)
    for flag, given in (pairs or {}).items():
        values = {**values, **_parse_pairs(given, flag, text)}
    request = JobRequest(process=process, inputs=values)
    try:
        if submit:
            from tileserver.jobs.detached import submit_detached

            checked = check_job(request, catalog, settings, COMMAND_LINE)
            queued = submit_detached(settings, catalog, checked.process, checked.inputs)
            typer.echo(json.dumps({"job": queued.id, "status": queued.status.value}))
            return
        job = submit_job(request, catalog, settings, COMMAND_LINE)
    except CogsightError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    store = JobStore(catalog)
    with tqdm(
        total=100, desc=process, unit="%", bar_format="{l_bar}{bar}| {n:.0f}% {postfix}"
    ) as bar:

        def progress(percent: float, message: str) -> None:
            bar.n = percent
            bar.set_postfix_str(message)

        status = execute_job(job.id, settings.model_dump(mode="json"), on_progress=progress)
        if status == "successful":
            bar.n = 100
            bar.refresh()
    final = store.get(job.id)
    typer.echo(
        json.dumps(
            {
                "job": final.id,
                "status": final.status.value,
                "message": final.message,
                "results": final.results,
            }
        )
    )
    if final.status != "successful":
        raise typer.Exit(code=1)


@app.command()
def train(
    name: Annotated[str, typer.Argument(help="Name of the new model (kebab-case).")],
    labels: Annotated[str, typer.Option(help="Labels dataset id: a mask or a vector.")],
    dataset: Annotated[
        list[str], typer.Option(help="Image dataset id (twice for change: earlier, later).")
    ],
    bands: Annotated[str, typer.Option(help="Common band names, comma-separated.")] = (
        "blue,green,red,nir"
    ),
    class_field: Annotated[str | None, typer.Option(help="Class attribute of a vector.")] = None,
    minutes: Annotated[float, typer.Option(help="Training time budget.")] = 2.0,
    overwrite: Annotated[bool, typer.Option(help="Replace a model of this name.")] = False,
    submit: Annotated[bool, typer.Option(help="Queue on the Dask cluster.")] = False,
) -> None:
    """Train a U-Net (one dataset) or a Siamese U-Net (two datasets) and register it."""
    values: dict = {
        "name": name,
        "labels": labels,
        "bands": [b.strip() for b in bands.split(",") if b.strip()],
        "class_field": class_field,
        "time_budget_s": minutes * 60,
        "overwrite": overwrite,
    }
    if len(dataset) == 2:
        values.update(task="change", datasets=dataset)
    elif len(dataset) == 1:
        values.update(task="segmentation", dataset=dataset[0])
    else:
        typer.echo("error: give --dataset once (segmentation) or twice (change)", err=True)
        raise typer.Exit(code=2)
    _run_process("train", values, submit)


@app.command()
def jobs(limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20) -> None:
    """List jobs with their status and progress."""
    from tileserver.jobs.store import JobStore

    for job in JobStore(_catalog(Settings())).recent(limit=limit):
        typer.echo(
            f"{job.id}  {job.status.value:10s} {job.progress:5.1f}%  "
            f"{job.process:10s} {job.message}"
        )


@app.command()
def processes() -> None:
    """List the processing tools."""
    from tileserver.processing import PROCESSES

    for process in PROCESSES:
        typer.echo(f"{process.id:12s} {process.title}: {process.description}")


def _register_ingest() -> None:
    from tileserver.cli_ingest import ingest

    app.command("ingest")(ingest)


def _register_harvest() -> None:
    from tileserver.cli_harvest import harvest

    app.command("harvest")(harvest)


def _register_add_item() -> None:
    from tileserver.cli_scenes import add_item

    app.command("add-item")(add_item)


_register_ingest()
_register_add_item()
_register_harvest()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = ["Path", "app"]
