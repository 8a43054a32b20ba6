"""``cogsight model add | list``: bring an ONNX / TorchScript model with its card, see the models.

The same service as ``POST /models`` (tileserver.processing.models.upload); the command acts as
the local administrator, like every other command, so its models are public unless
``--private`` is given.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from tileserver.errors import CogsightError
from tileserver.settings import Settings

models_app = typer.Typer(help="Models: add your own ONNX / TorchScript network, list them.")


PALETTE = ("#000000", "#e6194b", "#3cb44b", "#4363d8", "#ffe119", "#f58231", "#911eb4")
"""Colours of classes given without one, in order."""


def parse_classes(text: str) -> dict[str, dict[str, str]]:
    """``0=background:#000000,1=water:#0000ff`` -> the card's classes (colour optional)."""
    classes: dict[str, dict[str, str]] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, rest = item.partition("=")
        name, colon, color = rest.partition(":")
        if not sep or not key.strip() or not name.strip():
            raise typer.BadParameter(
                f"'{item}': expected ID=NAME[:#RRGGBB]", param_hint="--classes"
            )
        default = PALETTE[len(classes) % len(PALETTE)]
        classes[key.strip()] = {"name": name.strip(), "color": color.strip() if colon else default}
    return classes


def _resolution(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise typer.BadParameter("expected MIN,MAX metres", param_hint="--resolution") from None
    return values * 2 if len(values) == 1 else values


@models_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="The .onnx file or TorchScript .pt file.")],
    card: Annotated[
        Path | None, typer.Option(help="The model card (JSON); flags below override it.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Model name (kebab-case).")] = None,
    title: Annotated[str | None, typer.Option(help="Title shown in tool lists.")] = None,
    bands: Annotated[
        str | None, typer.Option(help="Input bands in order, comma-separated (red,green,blue).")
    ] = None,
    classes: Annotated[
        str | None, typer.Option(help="ID=NAME[:#RRGGBB], comma-separated, one per output.")
    ] = None,
    scale: Annotated[float | None, typer.Option(help="stored value x scale + offset.")] = None,
    offset: Annotated[float | None, typer.Option(help="Added after scale.")] = None,
    chip: Annotated[int | None, typer.Option(help="Chip size the network takes, pixels.")] = None,
    resolution: Annotated[
        str | None, typer.Option(help="MIN,MAX metres per pixel the network is meant for.")
    ] = None,
    logits: Annotated[
        bool, typer.Option("--logits", help="The network returns logits (a softmax is added).")
    ] = False,
    private: Annotated[bool, typer.Option("--private", help="Only its owner sees it.")] = False,
) -> None:
    """Check the network on zeros of the card's chip shape, store it as a new version, and
    register it as a tool (``cogsight run NAME``)."""
    from tileserver.auth.schemas import Principal
    from tileserver.processing.models.upload import (
        STAGING_PREFIX,
        ModelOut,
        add_model,
        card_from_request,
    )

    card_json = None
    if card is not None:
        try:
            card_json = card.read_text(encoding="utf-8")
        except OSError as exc:
            typer.echo(f"error: cannot read the card: {exc.strerror}", err=True)
            raise typer.Exit(code=2) from None
    fields: dict[str, Any] = {
        "name": name,
        "title": title,
        "bands": [b.strip() for b in bands.split(",") if b.strip()] if bands else None,
        "classes": parse_classes(classes) if classes else None,
        "scale": scale,
        "offset": offset,
        "chip_size": chip,
        "resolution_range": _resolution(resolution),
        "output": "logits" if logits else None,
    }
    if not file.is_file():
        typer.echo(f"error: no such file: {file}", err=True)
        raise typer.Exit(code=2)
    settings = Settings()
    # a staging name: a copy left by a killed command is swept like a killed upload's folder
    staging = f"{STAGING_PREFIX}cli-"
    with tempfile.TemporaryDirectory(prefix=staging, dir=_scratch(settings)) as tmp:
        copy = Path(tmp) / file.name  # the service moves its file into the models folder
        try:
            upload_card = card_from_request(card_json, fields)
            shutil.copyfile(file, copy)
            model: ModelOut = add_model(
                settings,
                copy,
                upload_card,
                Principal(single_user=True),
                visibility="private" if private else "public",
            )
        except CogsightError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None
    typer.echo(
        f"{model.name} version {model.version} ({model.kind}): {len(model.bands)} bands -> "
        f"{len(model.classes)} classes; run it with: cogsight run {model.name} "
        "--input dataset=ID"
    )


@models_app.command("list")
def list_cmd() -> None:
    """Every model with where it comes from and, for uploads, the version that serves."""
    from tileserver.auth.schemas import Principal
    from tileserver.processing.models.upload import list_models

    for model in list_models(Settings(), Principal(single_user=True), True):
        version = f" v{model.version}" if model.version else ""
        state = "" if model.runnable else " (not runnable yet)"
        typer.echo(f"{model.name:24s} {model.source:9s}{version} {model.title}{state}")


@models_app.command("rm")
def remove_cmd(
    name: Annotated[str, typer.Argument(help="The trained or uploaded model to remove.")],
) -> None:
    """Remove a trained or uploaded model with all its versions (built-in models stay)."""
    from tileserver.auth.schemas import Principal
    from tileserver.processing.models.remove import remove_model

    try:
        remove_model(name, Settings(), Principal(single_user=True))
    except CogsightError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"removed {name}")


def _scratch(settings: Settings) -> str:
    """A temporary folder on the data's file system (the copy is renamed, not copied again)."""
    folder = Path(settings.data_dir) / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)
