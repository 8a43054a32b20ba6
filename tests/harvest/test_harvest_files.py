"""Static catalogs and item files as sources, refused items with their reasons, and the CLI's
summary and report."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.harvest.conftest import write_ndjson
from tests.harvest.helpers import item_ids
from tileserver.catalog import Catalog
from tileserver.cli import app
from tileserver.harvest.options import HarvestOptions
from tileserver.harvest.runs import RunStore
from tileserver.harvest.service import harvest
from tileserver.settings import Settings


def _bad_items(good: dict[str, Any]) -> list[dict[str, Any]]:
    outside = copy.deepcopy(good)
    outside["id"] = "OUTSIDE_PREFIXES"
    for asset in outside["assets"].values():
        asset["href"] = "https://elsewhere.example.com/imagery/" + asset["href"].rsplit("/", 1)[-1]
    no_raster = copy.deepcopy(good)
    no_raster["id"] = "NO_RASTER_ASSETS"
    no_raster["assets"] = {
        "metadata": {"href": "https://elsewhere.example.com/m.xml", "type": "application/xml"}
    }
    malformed = copy.deepcopy(good)
    malformed["id"] = "MALFORMED"
    del malformed["bbox"], malformed["geometry"]
    return [outside, no_raster, malformed]


def test_static_catalog_over_http(
    stac_api: Any, archive_items: dict[str, dict[str, Any]], catalog: Catalog, settings: Settings
) -> None:
    api = stac_api(list(archive_items.values()))
    options = HarvestOptions(collections=["landsat-c2-l2"], batch_size=1)
    run = harvest(catalog, settings, api.static_url, options)
    assert run.source_kind == "static"
    assert item_ids(catalog) == {"LC08_WUHAN_0110", "LC08_AUSTRIA_0701"}
    assert (run.status, run.seen, run.added, run.total) == ("completed", 2, 2, 2)
    again = harvest(catalog, settings, api.static_url, options)
    assert (again.unchanged, again.added) == (2, 0)


def test_ndjson_refuses_bad_entries_with_reasons_and_registers_the_rest(
    tmp_path: Path, many_items: Any, catalog: Catalog, settings: Settings
) -> None:
    good = many_items(5)
    path = write_ndjson(
        tmp_path / "items.ndjson", good + _bad_items(good[0]), ["{not json", "[1, 2]"]
    )
    run = harvest(catalog, settings, str(path), HarvestOptions(batch_size=4))

    assert item_ids(catalog) == {f"S2X_{i:06d}" for i in range(5)}
    assert (run.status, run.seen, run.added, run.refused) == ("completed", 10, 5, 5)
    reasons = {r.item_id: r.reason for r in RunStore(catalog).refusals(run.id)}
    assert set(reasons) == {
        "OUTSIDE_PREFIXES",
        "NO_RASTER_ASSETS",
        "MALFORMED",
        "line 9",
        "line 10",
    }
    assert "allowed prefix" in reasons["OUTSIDE_PREFIXES"]
    assert "raster" in reasons["NO_RASTER_ASSETS"]
    assert reasons["line 9"] == "not valid JSON"
    assert reasons["line 10"] == "not a JSON object (a STAC item is one)"
    assert "elsewhere.example.com" not in " ".join(reasons.values())


def test_item_collection_file(
    tmp_path: Path, many_items: Any, catalog: Catalog, settings: Settings
) -> None:
    path = tmp_path / "search-results.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": many_items(7)}))
    run = harvest(catalog, settings, f"file://{path}", HarvestOptions(batch_size=3))
    assert (run.source_kind, run.status, run.added, run.total) == ("file", "completed", 7, 7)
    assert len(item_ids(catalog)) == 7


def test_cli_prints_the_run_and_writes_the_report(
    tmp_path: Path, many_items: Any, settings: Settings, monkeypatch: Any
) -> None:
    good = many_items(3)
    path = write_ndjson(tmp_path / "items.ndjson", good + _bad_items(good[0]))
    monkeypatch.setenv("COGSIGHT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COGSIGHT_ALLOWED_PREFIXES", ",".join(settings.allowed_prefixes))
    report = tmp_path / "refused.csv"
    result = CliRunner().invoke(app, ["harvest", str(path), "--report", str(report)])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout.strip().splitlines()[-1])
    assert (run["status"], run["added"], run["refused"]) == ("completed", 3, 3)
    with report.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["item_id"] for r in rows] == ["OUTSIDE_PREFIXES", "NO_RASTER_ASSETS", "MALFORMED"]
    assert all(r["reason"] for r in rows)

    again = CliRunner().invoke(app, ["harvest", str(path)])
    run2 = json.loads(again.stdout.strip().splitlines()[-1])
    assert (run2["added"], run2["unchanged"], run2["refused"]) == (0, 3, 3)
    assert "refused MALFORMED:" in again.stderr


def test_cli_unknown_source_exits_2(settings: Settings, monkeypatch: Any) -> None:
    monkeypatch.setenv("COGSIGHT_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(app, ["harvest", "no-such-source"])
    assert result.exit_code == 2
    assert "neither a configured source id nor a file" in result.stderr
    unknown_run = CliRunner().invoke(app, ["harvest", "--resume", "0123abcd"])
    assert unknown_run.exit_code == 2
    assert "Harvest run '0123abcd' not found." in unknown_run.stderr


def test_static_catalog_sends_credentials_to_its_own_host_only(
    stac_api: Any, many_items: Any, catalog: Catalog, settings: Settings
) -> None:
    from tileserver.settings import StacSource

    elsewhere = stac_api(many_items(2, prefix="ELSEWHERE"))
    link = {"rel": "child", "href": f"{elsewhere.url}/static/sentinel-2-l2a/collection.json"}
    home = stac_api(
        many_items(3), required_headers={"X-Api-Key": "sk-static-1234"}, static_links=[link]
    )
    configured = settings.model_copy(
        update={
            "stac_sources": [
                StacSource(id="home", url=home.static_url, headers={"X-Api-Key": "sk-static-1234"})
            ]
        }
    )
    run = harvest(catalog, configured, "home", HarvestOptions())
    assert (run.status, run.added) == ("completed", 5)
    assert len(item_ids(catalog, "home")) == 5
    assert home.requests and all(r.headers.get("x-api-key") for r in home.requests)
    assert elsewhere.requests and not any("x-api-key" in r.headers for r in elsewhere.requests)
