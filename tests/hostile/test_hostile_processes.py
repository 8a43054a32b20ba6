"""Hostile process executions, job ids, job files, projects and index names: unknown ids are 404s,
wrong input types and path-like values are 400/422 before any job is queued (the job list does
not grow), and nothing a client names is opened."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hostile.checks import Status, assert_refused


def executions(rid: str) -> dict[str, tuple[str, Any, Status]]:
    """name: (process id, body, statuses)."""
    return {
        "unknown-process": ("nope", {"inputs": {}}, 404),
        "process-path": ("..%2F..%2Fetc%2Fpasswd", {"inputs": {}}, 404),
        "process-dots": ("%2E%2E", {"inputs": {}}, 404),
        "body-not-json": ("index", "{", 422),
        "body-a-list": ("index", [], 422),
        "inputs-a-list": ("index", {"inputs": [1, 2]}, 422),
        "inputs-a-string": ("index", {"inputs": "dataset"}, 422),
        "dataset-a-number": ("index", {"inputs": {"dataset": 5, "index": "NDVI"}}, 400),
        "dataset-a-list": ("index", {"inputs": {"dataset": [rid], "index": "NDVI"}}, 400),
        "dataset-path": (
            "index",
            {"inputs": {"dataset": "../../etc/passwd", "index": "NDVI"}},
            404,
        ),
        "dataset-url": (
            "index",
            {"inputs": {"dataset": "/vsicurl/http://127.0.0.1:9/x.tif", "index": "NDVI"}},
            404,
        ),
        "dataset-file-url": (
            "index",
            {"inputs": {"dataset": "file:///etc/passwd", "index": "NDVI"}},
            404,
        ),
        "index-path": ("index", {"inputs": {"dataset": rid, "index": "../../etc/passwd"}}, 400),
        "index-and-expression": (
            "index",
            {"inputs": {"dataset": rid, "index": "NDVI", "expression": "b1"}},
            400,
        ),
        "expression-import": (
            "index",
            {"inputs": {"dataset": rid, "expression": "__import__('os').system('id')"}},
            400,
        ),
        "expression-tower-of-powers": (
            "index",
            {"inputs": {"dataset": rid, "expression": "b1*9**9**9"}},
            400,
        ),
        "expression-arity": (
            "index",
            {"inputs": {"dataset": rid, "expression": "sin(b1,b2)"}},
            400,
        ),
        "expression-where-float": (
            "index",
            {"inputs": {"dataset": rid, "expression": "where(b1,1,2)"}},
            400,
        ),
        "expression-constant-overflow": (
            "index",
            {"inputs": {"dataset": rid, "expression": "b1*1e308**2"}},
            400,
        ),
        "expression-no-band": ("index", {"inputs": {"dataset": rid, "expression": "1+1"}}, 400),
        "expression-unknown-band": (
            "index",
            {"inputs": {"dataset": rid, "expression": "coastal"}},
            400,
        ),
        "reproject-crs-path": (
            "reproject",
            {"inputs": {"dataset": rid, "crs": "/etc/passwd"}},
            400,
        ),
        "reproject-crs-file-url": (
            "reproject",
            {"inputs": {"dataset": rid, "crs": "file:///etc/passwd"}},
            400,
        ),
        "reproject-crs-init-file": (
            "reproject",
            {"inputs": {"dataset": rid, "crs": "+init=/etc/passwd:1"}},
            400,
        ),
        "reproject-crs-url": (
            "reproject",
            {"inputs": {"dataset": rid, "crs": "http://127.0.0.1:9/crs.json"}},
            400,
        ),
        "reproject-epsg-huge": (
            "reproject",
            {"inputs": {"dataset": rid, "crs": "EPSG:99999999999"}},
            400,
        ),
        "reproject-resampling-path": (
            "reproject",
            {"inputs": {"dataset": rid, "crs": "EPSG:4326", "resampling": "../x"}},
            400,
        ),
        "resample-resolution-negative": (
            "resample",
            {"inputs": {"dataset": rid, "resolution": -1}},
            400,
        ),
        "resample-resolution-zero": (
            "resample",
            {"inputs": {"dataset": rid, "resolution": 0}},
            400,
        ),
        "resample-resolution-text": (
            "resample",
            {"inputs": {"dataset": rid, "resolution": "abc"}},
            400,
        ),
        "clip-geometry-garbage": (
            "clip",
            {"inputs": {"dataset": rid, "geometry": {"type": "Polygon", "coordinates": "x"}}},
            400,
        ),
        "clip-vector-path": (
            "clip",
            {"inputs": {"dataset": rid, "vector": "../../etc/passwd"}},
            404,
        ),
        "clip-both": ("clip", {"inputs": {"dataset": rid, "vector": "x", "geometry": {}}}, 400),
        "composite-one-dataset": ("composite", {"inputs": {"datasets": [rid]}}, 400),
        "mosaic-paths": ("mosaic", {"inputs": {"datasets": ["../../a", "../../b"]}}, 404),
        "animation-size-1e6": (
            "animation",
            {"inputs": {"datasets": [rid, rid], "size": 1000000}},
            400,
        ),
        "animation-fps-zero": ("animation", {"inputs": {"datasets": [rid, rid], "fps": 0}}, 400),
        "animation-format-exe": (
            "animation",
            {"inputs": {"datasets": [rid, rid], "formats": ["exe"]}},
            400,
        ),
        "animation-colormap-path": (
            "animation",
            {"inputs": {"datasets": [rid, rid], "colormap": "../../etc/passwd", "index": "NDVI"}},
            400,
        ),
    }


EXECUTION_NAMES = list(executions("x"))


@pytest.mark.parametrize("name", EXECUTION_NAMES)
def test_hostile_executions_queue_nothing(client, demo, name):
    process, body, status = executions(demo["scene-2024-05-12"])[name]
    jobs_before = client.get("/jobs").json()["jobs"]
    url = f"/processes/{process}/execution"
    if isinstance(body, str):
        r = client.post(url, content=body, headers={"content-type": "application/json"})
    else:
        r = client.post(url, json=body)
    assert_refused(r, status)
    assert client.get("/jobs").json()["jobs"] == jobs_before, "no job was queued"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/processes/nope", 404),
        ("GET", "/processes/..%2F..%2Fetc%2Fpasswd", 404),
        ("GET", "/jobs/nope", 404),
        ("GET", "/jobs/..%2F..%2Fetc%2Fpasswd", 404),
        ("GET", "/jobs/%2E%2E", 404),
        ("GET", "/jobs/abc%00def", 404),
        ("GET", "/jobs/" + "f" * 5000, 404),
        ("GET", "/jobs/nope/results", 404),
        ("DELETE", "/jobs/nope", 404),
        ("DELETE", "/jobs/..%2F..%2Fetc%2Fpasswd", 404),
        ("GET", "/jobs?limit=1000000000", 422),
        ("GET", "/jobs?limit=abc", 422),
        ("GET", "/files/..%2F..%2Fetc/passwd", 404),
        ("GET", "/files/0123456789abcdef/..%2F..%2F..%2Fetc%2Fpasswd", 404),
        ("GET", "/files/0123456789abcdef/animation.gif", 404),
        ("GET", "/files/0123456789abcdef/animation.gif%00.png", 404),
        ("GET", "/files/%2E%2E/animation.gif", 404),
        ("GET", "/files/0123456789ABCDEF/animation.mp4", 404),
        ("GET", "/indices/..%2F..%2Fetc%2Fpasswd", 404),
        ("GET", "/indices/NOPE", 404),
        ("GET", "/projects/..%2F..%2Fetc%2Fpasswd", 404),
        ("GET", "/projects/nope", 404),
        ("PATCH", "/projects/nope", 404),
        ("DELETE", "/projects/nope", 404),
    ],
)
def test_hostile_ids_and_files(client, method, path, status):
    r = client.request(method, path, json={} if method == "PATCH" else None)
    assert_refused(r, (status, 422) if method == "PATCH" else status)


@pytest.mark.parametrize(
    "body",
    [
        "{",
        [],
        {"name": 5},
        {"name": "x" * 100_000},
        {"name": "ok", "layers": "../../etc/passwd"},
        {"name": "ok", "layers": [{"dataset": "../../etc/passwd"}]},
    ],
    ids=["not-json", "a-list", "name-a-number", "name-100k", "layers-a-path", "layer-dataset-path"],
)
def test_hostile_projects(client, body):
    before = client.get("/projects").json()
    if isinstance(body, str):
        r = client.post("/projects", content=body, headers={"content-type": "application/json"})
    else:
        r = client.post("/projects", json=body)
    assert_refused(r, (400, 404, 422))
    assert client.get("/projects").json() == before
