"""``cogsight dataset|mosaic rename|describe|visibility|delete``: the same services from the
command line, acting as an administrator on the server's data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.catalog_manage.world import tif_bytes
from tests.conftest import ROOT
from tileserver.auth.store import UserStore
from tileserver.catalog import Catalog
from tileserver.cli import app
from tileserver.errors import DatasetNotFound, MosaicNotFound
from tileserver.ingest import register_raster
from tileserver.ingest.thumbnail import thumbnail_path
from tileserver.jobs.store import JobStore
from tileserver.mosaics.build import MosaicRequest, build_mosaic
from tileserver.settings import Settings


@dataclass
class Server:
    settings: Settings
    catalog: Catalog
    env: dict[str, str]
    sources: Path
    owner: str

    def raster(self, seed: int = 1) -> str:
        path = self.sources / f"scene{seed}.tif"
        path.write_bytes(tif_bytes(seed))
        return register_raster(
            self.catalog, self.settings, path, owner=self.owner, visibility="private"
        ).id

    def cli(self, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, list(args), env=self.env, input=input)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("manage-cli")
    settings = Settings(data_dir=data)
    catalog = Catalog(settings.resolved_database_url)
    owner = UserStore(catalog, settings).add("alice").id  # users exist: no single-user mode
    yield Server(
        settings,
        catalog,
        {"COGSIGHT_DATA_DIR": str(data)},
        tmp_path_factory.mktemp("manage-cli-src"),
        owner,
    )


def test_rename_describe_and_publish_a_users_dataset(server: Server) -> None:
    ident = server.raster()
    out = server.cli("dataset", "rename", ident, "Wuhan, June")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {
        "id": ident,
        "title": "Wuhan, June",
        "visibility": "private",
        "description": None,
    }
    out = server.cli("dataset", "describe", ident, "Clear sky.")
    assert json.loads(out.stdout)["description"] == "Clear sky."
    out = server.cli("dataset", "visibility", ident, "public")
    assert out.exit_code == 0 and json.loads(out.stdout)["visibility"] == "public"
    record = server.catalog.get_dataset(ident)
    assert (record.title, record.visibility, record.owner) == (
        "Wuhan, June",
        "public",
        server.owner,
    )
    assert record.properties["description"] == "Clear sky."


def test_bad_values_are_refused_with_a_reason(server: Server) -> None:
    ident = server.raster(seed=2)
    out = server.cli("dataset", "rename", ident, "  ")
    assert (
        out.exit_code == 2 and "error: title: String should have at least 1 character" in out.stderr
    )
    out = server.cli("dataset", "describe", ident, "d" * 10_001)
    assert out.exit_code == 2 and "error: description:" in out.stderr
    out = server.cli("dataset", "visibility", ident, "shared")
    assert out.exit_code == 2 and "'shared' is not one of" in out.output
    out = server.cli("dataset", "rename", "000000000000", "x")
    assert out.exit_code == 2 and "error: No dataset with id '000000000000'." in out.stderr
    assert server.catalog.get_dataset(ident).title == "scene2"


def test_delete_asks_first_and_removes_the_files(server: Server) -> None:
    ident = server.raster(seed=3)
    cog = server.settings.data_dir / "cogs" / f"{ident}.tif"
    out = server.cli("dataset", "delete", ident, input="n\n")
    assert out.exit_code == 1 and "nothing deleted" in out.stderr
    assert server.catalog.get_dataset(ident) and cog.is_file()
    out = server.cli("dataset", "delete", ident, input="y\n")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout.splitlines()[-1]) == {"deleted": ident, "title": "scene3"}
    with pytest.raises(DatasetNotFound):
        server.catalog.get_dataset(ident)
    assert not cog.exists() and not thumbnail_path(server.settings, ident).exists()


def test_delete_is_refused_while_a_job_runs_on_it(server: Server) -> None:
    ident = server.raster(seed=4)
    jobs = JobStore(server.catalog)
    job = jobs.create("index", {"dataset": ident, "index": "NDVI"}, owner=server.owner)
    jobs.start(job.id)
    out = server.cli("dataset", "delete", ident, "--yes")
    assert out.exit_code == 2
    assert f"error: Dataset {ident} is used by job {job.id} (running); cancel it first." in (
        out.stderr
    )
    assert server.catalog.get_dataset(ident)
    jobs.dismiss(job.id)
    assert server.cli("dataset", "delete", ident, "--yes").exit_code == 0


def test_mosaics_from_the_command_line(server: Server) -> None:
    scene = server.raster(seed=5)
    mosaic = build_mosaic(server.catalog, MosaicRequest(ids=[scene]), owner=server.owner)
    out = server.cli("mosaic", "rename", mosaic.id, "Summer")
    assert json.loads(out.stdout)["title"] == "Summer"
    out = server.cli("mosaic", "describe", mosaic.id, "June scenes.")
    assert json.loads(out.stdout)["description"] == "June scenes."
    out = server.cli("mosaic", "visibility", mosaic.id, "public")
    assert json.loads(out.stdout)["visibility"] == "public"
    stored = server.catalog.get_mosaic(mosaic.id)
    assert (stored.title, stored.visibility, stored.mosaicjson["description"]) == (
        "Summer",
        "public",
        "June scenes.",
    )
    refused = server.cli("dataset", "delete", scene, "--yes")
    assert refused.exit_code == 2
    assert f"is used by mosaic {mosaic.id}; delete it first." in refused.stderr
    out = server.cli("mosaic", "delete", mosaic.id, "--yes")
    assert out.exit_code == 0 and json.loads(out.stdout)["deleted"] == mosaic.id
    with pytest.raises(MosaicNotFound):
        server.catalog.get_mosaic(mosaic.id)
    assert server.cli("dataset", "delete", scene, "--yes").exit_code == 0


def test_the_installed_command_deletes(server: Server) -> None:
    ident = server.raster(seed=6)
    done = subprocess.run(
        [sys.executable, "-m", "tileserver.cli", "dataset", "delete", ident, "--yes"],
        cwd=ROOT,
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deleted"] == ident
    assert not (server.settings.data_dir / "cogs" / f"{ident}.tif").exists()
