"""``/samples`` over HTTP (in-process client on the demo catalog): the endpoints answer what
the services do, with the errors mapped to their codes."""

from __future__ import annotations

import io

import pyogrio

SCENE = "scene-2024-05-12"


def _square(record: dict, fx: float, fy: float, side: float = 0.05) -> dict:
    """A square at fractions (fx, fy) of the scene's bounds, ``side`` of its width."""
    w, s, e, n = record["bounds"]
    x0, y0 = w + fx * (e - w), s + fy * (n - s)
    x1, y1 = x0 + side * (e - w), y0 + side * (n - s)
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_create_save_download_and_train_request(client, demo):
    image = client.get(f"/datasets/{demo[SCENE]}").json()
    classes = [
        {"value": 1, "name": "water", "color": "#1f6fd1"},
        {"value": 2, "name": "land", "color": "#2e8b3a"},
    ]
    created = client.post(
        "/samples",
        json={
            "image": image["id"],
            "title": "API set",
            "classes": classes,
            "samples": [{"geometry": _square(image, 0.2, 0.2), "class": 1}],
        },
    )
    assert created.status_code == 201, created.text
    set_id = created.json()["id"]
    assert created.json()["version"] == 1
    one_class = client.post(f"/samples/{set_id}/train-request", json={})
    assert one_class.status_code == 400 and "at least two classes" in one_class.json()["detail"]

    saved = client.put(
        f"/samples/{set_id}",
        json={
            "samples": [
                {"geometry": _square(image, 0.2, 0.2), "class": 1},
                {"geometry": _square(image, 0.6, 0.6), "class": 2},
            ]
        },
    )
    assert saved.status_code == 200 and saved.json()["version"] == 2
    assert client.get(f"/samples/{set_id}/features?version=1").json()["features"][0][
        "properties"
    ] == {"class": 1, "kind": "polygon"}
    gpkg = client.get(f"/samples/{set_id}/download?format=gpkg")
    assert gpkg.status_code == 200
    frame = pyogrio.read_dataframe(io.BytesIO(gpkg.content))
    assert sorted(frame["class"]) == [1, 2]
    listed = client.get("/samples", params={"image": image["id"]}).json()
    assert set_id in [s["id"] for s in listed]
    request = client.post(f"/samples/{set_id}/train-request", json={"max_epochs": 2}).json()
    assert request["process"] == "train" and request["inputs"]["name"] == "api-set-v1"
    auto = client.post(f"/samples/{set_id}/train-request", json={"method": "auto"}).json()
    assert auto["inputs"]["method"] == "auto"  # what the Label tab sends by default
    bogus = client.post(f"/samples/{set_id}/train-request", json={"method": "magic"}).json()
    refused = client.post("/processes/train/execution", json={"inputs": bogus["inputs"]})
    assert refused.status_code == 400 and "method" in refused.text, refused.text

    outside = client.post(
        "/samples",
        json={
            "image": image["id"],
            "classes": classes,
            "samples": [{"geometry": _square(image, 3.0, 3.0), "class": 1}],
        },
    )
    assert outside.status_code == 400 and "outside image" in outside.json()["detail"]
    assert client.get("/samples/nope").status_code == 404
    assert client.get(f"/samples/{demo[SCENE]}").status_code == 404, "an image is no sample set"
