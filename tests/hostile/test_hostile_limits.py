"""Hostile sizes: inputs that are well formed but too deep, too wide or too long. Each is a 4xx
that names the limit, answers in a few hundred bytes whatever it was sent, and leaves nothing
behind (no project, no change to one, no dataset, no job, no export folder)."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from tests.hostile.checks import assert_refused, assert_unchanged, data_state
from tileserver.http.app import create_app
from tileserver.settings import Settings

SHORT = 1024  # bytes: what a refusal may be, whatever the request sent


def nested(depth: int) -> str:
    """A JSON object ``depth`` levels deep, as text (json.dumps recurses; this does not)."""
    return '{"a":' * depth + "1" + "}" * depth


def post_json(client: TestClient, method: str, url: str, text: str | bytes) -> Any:
    headers = {"content-type": "application/json"}
    return client.request(method, url, content=text, headers=headers)


# --- project layers: render depth and size, body size, jobs, history --------------------------
@pytest.fixture
def project(upload_client: TestClient) -> Iterator[dict[str, Any]]:
    body = {"title": "survey", "layers": [{"id": "a", "render": {"bands": [3, 2, 1]}}]}
    created = upload_client.post("/projects", json=body)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    yield upload_client.get(f"/projects/{pid}").json()
    upload_client.delete(f"/projects/{pid}")


def project_ids(client: TestClient) -> list[str]:
    return [p["id"] for p in client.get("/projects", params={"limit": 1000}).json()["items"]]


@pytest.mark.parametrize("depth", [17, 256, 900])
def test_deep_render_refused_on_create(upload_client, depth):
    before = project_ids(upload_client)
    body = '{"title":"deep","layers":[{"id":"a","render":' + nested(depth) + "}]}"
    r = post_json(upload_client, "POST", "/projects", body)
    assert_refused(r, 400, "invalid_input", needle="layers[0].render is nested too deep")
    assert "at most 16 levels" in r.json()["detail"]
    assert project_ids(upload_client) == before


@pytest.mark.parametrize("depth", [17, 256])
def test_deep_render_refused_on_patch(upload_client, project, depth):
    body = '{"layers":[{"id":"b"},{"id":"a","render":' + nested(depth) + "}]}"
    r = post_json(upload_client, "PATCH", f"/projects/{project['id']}", body)
    assert_refused(r, 400, "invalid_input", needle="layers[1].render is nested too deep")
    assert upload_client.get(f"/projects/{project['id']}").json() == project


def test_render_at_the_depth_limit_is_kept(upload_client, project):
    body = '{"layers":[{"id":"a","render":' + nested(16) + "}]}"
    r = post_json(upload_client, "PATCH", f"/projects/{project['id']}", body)
    assert r.status_code == 200, r.text
    assert json.dumps(r.json()["layers"][0]["render"], separators=(",", ":")) == nested(16)


def test_huge_render_refused(upload_client, project):
    render = {"colormap": {str(i): [i % 256, 0, 0, 255] for i in range(5000)}}  # ~90 KiB
    r = upload_client.patch(
        f"/projects/{project['id']}", json={"layers": [{"id": "a", "render": render}]}
    )
    assert_refused(r, 413, "payload_too_large", needle="layers[0].render is")
    assert "at most 65,536" in r.json()["detail"]
    assert upload_client.get(f"/projects/{project['id']}").json() == project


def test_project_body_over_the_limit(upload_client, project):
    before = project_ids(upload_client)
    big = b'{"title":"big","description":"' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = post_json(upload_client, "POST", "/projects", big)
    assert_refused(r, 413, "payload_too_large", needle="COGSIGHT_MAX_PROJECT_BYTES")

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused as the stream passes 1 MiB
        yield b'{"title":"streamed","description":"'
        yield from (b"y" * 65536 for _ in range(40))
        yield b'"}'

    streamed = upload_client.post(
        "/projects", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_refused(streamed, 413, "payload_too_large", needle="1.0 MiB")
    patched = post_json(upload_client, "PATCH", f"/projects/{project['id']}", big)
    assert_refused(patched, 413, "payload_too_large")
    assert project_ids(upload_client) == before
    assert upload_client.get(f"/projects/{project['id']}").json() == project


def test_project_jobs_are_bounded(upload_client):
    jobs = [f"{i:012x}" for i in range(10_000)]
    created = upload_client.post("/projects", json={"title": "busy", "jobs": jobs})
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    try:
        r = upload_client.patch(f"/projects/{pid}", json={"add_jobs": ["ffffffffffff", jobs[0]]})
        assert_refused(r, 413, "payload_too_large", needle="at most 10,000 jobs")
        assert "has 10,000 and the change adds 1" in r.json()["detail"]
        after = upload_client.get(f"/projects/{pid}").json()
        assert after["jobs"] == jobs and len(after["history"]) == 1
        long_id = upload_client.patch(f"/projects/{pid}", json={"add_jobs": ["j" * 65]})
        assert_refused(long_id, 422, "validation_error")
        assert "j" * 65 not in long_id.text
    finally:
        upload_client.delete(f"/projects/{pid}")


def test_history_names_a_few_jobs(upload_client, project):
    added = [f"{i:012x}" for i in range(990)]
    r = upload_client.patch(f"/projects/{project['id']}", json={"add_jobs": added + added[:10]})
    assert r.status_code == 200, r.text
    assert r.json()["jobs"] == added  # each once
    change = r.json()["history"][-1]["change"]
    assert change == f"jobs added: {', '.join(added[:5])} … and 985 more"


def test_project_list_is_paged_summaries(upload_client, project):
    page = upload_client.get("/projects", params={"limit": 1})
    assert page.status_code == 200
    body = page.json()
    assert body["count"] == 1 and body["matched"] >= 1
    assert set(body["items"][0]) == {
        "id", "owner", "visibility", "title", "description", "created", "updated"
    }  # fmt: skip
    assert_refused(upload_client.get("/projects", params={"limit": 100_000}), 422)
    assert_refused(upload_client.get("/projects", params={"offset": -1}), 422)


# --- process inputs: lists of dataset ids -------------------------------------------------------
def executions(rid: str, other: str) -> dict[str, tuple[str, dict[str, Any], str]]:
    """name: (process, inputs, what the 400 says)."""
    return {
        "mosaic-10000-times-one-id": ("mosaic", {"datasets": [rid] * 10_000}, "at most 500"),
        "mosaic-501-ids": (
            "mosaic",
            {"datasets": [f"{i:012x}" for i in range(501)]},
            "at most 500",
        ),
        "mosaic-same-id-twice": ("mosaic", {"datasets": [rid, other, rid]}, "listed once"),
        "animation-501-frames": ("animation", {"datasets": [rid, other] * 251}, "at most 500"),
        "composite-501-ids": ("composite", {"datasets": [rid] * 501}, "at most 500"),
        "composite-501-band-names": (
            "composite",
            {"datasets": [rid, other], "band_names": ["b"] * 501},
            "at most 500",
        ),
        "mosaic-id-of-100k-chars": ("mosaic", {"datasets": [rid, "x" * 100_000]}, "64 char"),
        "animation-1000-bands": (
            "animation",
            {"datasets": [rid, other], "index": "NDVI", "bands": ["red"] * 1000},
            "at most 3",
        ),
        "model-keeps-1000-classes": (
            "water-optical-ndwi",
            {"dataset": rid, "classes": list(range(1000))},
            "at most 256",
        ),
        "train-1000-class-names": (
            "train",
            {
                "name": "m",
                "dataset": rid,
                "labels": other,
                "classes": {str(i): "c" for i in range(1000)},
            },
            "at most 256",
        ),
        "train-100-bands": (
            "train",
            {"name": "m", "dataset": rid, "labels": other, "bands": ["red"] * 100},
            "at most 64",
        ),
        "animation-formats-repeated": (
            "animation",
            {"datasets": [rid, other], "formats": ["gif"] * 1000},
            "at most 2",
        ),
    }


@pytest.mark.parametrize("name", list(executions("x", "y")))
def test_process_id_lists_are_bounded(client, demo, name):
    process, inputs, needle = executions(demo["scene-2024-05-12"], demo["scene-2024-09-20"])[name]
    jobs_before = client.get("/jobs").json()["jobs"]
    r = client.post(f"/processes/{process}/execution", json={"inputs": inputs})
    assert_refused(r, 400, "invalid_input", needle=needle)
    assert len(r.content) < SHORT, len(r.content)
    assert client.get("/jobs").json()["jobs"] == jobs_before, "no job was queued"


def test_process_schemas_publish_the_limits(client):
    for process in ("mosaic", "animation", "composite"):
        schema = client.get(f"/processes/{process}").json()["inputs"]["datasets"]["schema"]
        assert schema["maxItems"] == 500
    mosaic = client.get("/processes/mosaic").json()["inputs"]["datasets"]["schema"]
    assert mosaic["uniqueItems"] is True


# --- mosaics: ids, and errors that name a few --------------------------------------------------
def test_mosaic_of_100k_unknown_ids(upload_client):
    before = upload_client.get("/mosaics").json()
    r = upload_client.post("/mosaics", json={"ids": [f"{i:012x}" for i in range(100_000)]})
    assert_refused(r, 400, "invalid_input", needle="at most 500 dataset ids")
    assert "names 100,000" in r.json()["detail"] and len(r.content) < SHORT
    assert upload_client.get("/mosaics").json() == before


def test_mosaic_error_names_a_few_unknown_ids(upload_client):
    ids = [f"{i:012x}" for i in range(500)]
    r = upload_client.post("/mosaics", json={"ids": ids})
    assert_refused(r, 400, "invalid_input")
    assert r.json()["detail"] == f"Unknown dataset id(s): {', '.join(ids[:5])} … and 495 more."


def test_mosaic_ids_named_twice(upload_client):
    r = upload_client.post("/mosaics", json={"ids": ["a", "b", "a", "b", "c"]})
    assert_refused(r, 400, "invalid_input", needle="named again: a, b.")


def test_mosaic_long_text_fields(upload_client):
    for body in ({"ids": ["a"], "title": "t" * 100_000}, {"datetime": "2024" * 10_000}):
        r = upload_client.post("/mosaics", json=body)
        assert_refused(r, 422, "validation_error")
        assert len(r.content) < SHORT


# --- STAC search lists --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"ids": [f"i{i}" for i in range(1001)]}, "ids: List should have at most 1000"),
        ({"collections": [f"c{i}" for i in range(101)]}, "collections: List should have at most"),
        ({"sortby": [{"field": "id"}] * 9}, "sortby: List should have at most 8"),
    ],
    ids=["ids-1001", "collections-101", "sortby-9"],
)
def test_stac_search_lists_are_bounded(upload_client, body, needle):
    r = upload_client.post("/stac/search", json=body)
    assert_refused(r, 400, "invalid_input", needle=needle)
    assert len(r.content) < SHORT


def test_stac_get_ids_are_bounded(upload_client):
    ids = ",".join(f"i{i}" for i in range(1001))
    assert_refused(upload_client.get("/stac/search", params={"ids": ids}), 400, "invalid_input")


# --- vector edits: an unknown field's name is not echoed whole ----------------------------------
def test_unknown_field_named_briefly(upload_client, upload_app, vector_id):
    before = data_state(upload_app)
    r = upload_client.patch(
        f"/vectors/{vector_id}/features/0", json={"properties": {"x" * 100_000: 1}}
    )
    assert_refused(r, 400, "invalid_input", needle="Unknown field 'xxxx")
    assert len(r.content) < SHORT
    assert_unchanged(upload_app, before)


# --- wide vector layers: refused at upload; a GeoPackage download names SQLite's limit ----------
def wide_shapefile(folder: Path, fields: int) -> bytes:
    """A zipped one-point shapefile with ``fields`` integer attribute fields."""
    folder.mkdir(parents=True, exist_ok=True)
    columns = pd.DataFrame({f"f{i}": [i] for i in range(fields)})
    frame = gpd.GeoDataFrame(columns, geometry=[shapely.Point(114.3, 30.5)], crs="EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "some DBF readers only support 255"
        frame.to_file(folder / "wide.shp", engine="pyogrio")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in sorted(folder.iterdir()):
            archive.write(part, arcname=part.name)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def wide_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return wide_shapefile(tmp_path_factory.mktemp("wide") / "shp", 2000)


def test_wide_shapefile_refused_at_upload(upload_client, upload_app, wide_zip):
    before = data_state(upload_app)
    r = upload_client.post("/datasets", files={"file": ("wide.zip", wide_zip, "application/zip")})
    assert_refused(r, 400, "invalid_input", needle="2,000 attribute fields; at most 1,000")
    assert "COGSIGHT_MAX_VECTOR_FIELDS" in r.json()["detail"]
    assert_unchanged(upload_app, before)


def test_wide_dataset_gpkg_download_names_the_limit(tmp_path, wide_zip):
    # a deployment that raised COGSIGHT_MAX_VECTOR_FIELDS (or data registered before it)
    app = create_app(Settings(data_dir=tmp_path, tile_cache_bytes=0, max_vector_fields=2046))
    with TestClient(app) as client:
        r = client.post("/datasets", files={"file": ("wide.zip", wide_zip, "application/zip")})
        assert r.status_code == 201, r.text
        url = f"/vectors/{r.json()['id']}/download"
        before = data_state(app)
        gpkg = client.get(url, params={"format": "gpkg"})
        assert_refused(gpkg, 400, "invalid_input", needle="2,000 attribute fields")
        assert "at most 1,998; download GeoJSON instead" in gpkg.json()["detail"]
        assert_unchanged(app, before)
        geojson = client.get(url, params={"format": "geojson"})
        assert geojson.status_code == 200
        assert len(json.loads(geojson.content)["features"][0]["properties"]) == 2000


# --- JSON bodies of executions, mosaics, STAC searches and feature edits -----------------------
JSON_BODY_ROUTES = [
    ("POST", "/processes/index/execution"),
    ("POST", "/mosaics"),
    ("POST", "/stac/search"),
    ("POST", "/vectors/0123456789ab/features"),
    ("PATCH", "/vectors/0123456789ab/features/1"),
]


@pytest.fixture(scope="module")
def small_body_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("small-bodies")
    settings = Settings(data_dir=data, tile_cache_bytes=0, max_json_body_bytes=4096)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(("method", "url"), JSON_BODY_ROUTES)
def test_json_bodies_are_bounded(small_body_client, method, url):
    before = data_state(small_body_client.app)
    big = b'{"inputs":{"title":"' + b"x" * 8192 + b'"}}'
    declared = post_json(small_body_client, method, url, big)
    assert_refused(declared, 413, "payload_too_large", needle="COGSIGHT_MAX_JSON_BODY_BYTES")

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused as the stream passes 4 KiB
        yield b'{"inputs":{"title":"'
        yield from (b"y" * 1024 for _ in range(16))
        yield b'"}}'

    streamed = small_body_client.request(
        method, url, content=chunks(), headers={"content-type": "application/json"}
    )
    assert_refused(streamed, 413, "payload_too_large")
    assert len(streamed.content) < SHORT
    assert_unchanged(small_body_client.app, before)
