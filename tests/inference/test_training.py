"""Training in the product, on the seeded synthetic demo scenes (East Lake, 768 x 768 px, 10 m).

A U-Net learns water vs other from the truth mask of the first date, a Siamese U-Net learns
change vs no change from the change mask of the two dates, each for well under 90 s of one CPU
thread, on the training blocks of a seeded spatial split; scores are checked on the held-out
blocks, once as the trainer reports them and once from the saved TorchScript file run over the
whole scene by the sliding-window engine. Figures are printed (pytest -s shows them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.features
import shapely

torch = pytest.importorskip("torch")

from inference.engine import run_inference  # noqa: E402
from inference.models import ModelRegistry  # noqa: E402
from inference.models.builtin import register_builtins  # noqa: E402
from inference.models.user_models import register_user_models  # noqa: E402
from inference.training import TrainingOptions, train_change, train_segmentation  # noqa: E402
from inference.training.api import TrainingResult  # noqa: E402
from inference.training.labels import IGNORE, ImageGrid, open_labels  # noqa: E402
from inference.training.sampling import SpatialSplit  # noqa: E402
from inference.training.trainer import torch_threads  # noqa: E402
from tileserver.demo import generate_demo  # noqa: E402

WATER = 1
BANDS = [1, 2, 3, 4, 5]  # blue, green, red, nir, swir16
WATER_MAP = {1: 1, 2: 0, 3: 0, 4: 0, 5: 0}  # truth classes -> other (0) / water (1)
CHANGE_MAP = {0: 0, 1: 1, 2: 1, 3: 1, 4: 1}  # any change class -> change (1)
# one thread: on a shared 2-core machine two torch threads oversubscribe and run several
# times slower than one
FAST = {"threads": 1, "seed": 0}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder)
    return {
        "date1": folder / "scene-2024-05-12.tif",
        "truth1": folder / "scene-2024-05-12.truth.tif",
        "date2": folder / "scene-2024-09-20.tif",
        "change": folder / "change-2024-05-12_2024-09-20.truth.tif",
    }


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _train_water(
    scenes: dict[str, Path], models_dir: Path, name: str, options: TrainingOptions, **kw: Any
) -> TrainingResult:
    return train_segmentation(
        scenes["date1"],
        scenes["truth1"],
        bands=BANDS,
        name=name,
        models_dir=models_dir,
        classes={0: "other", 1: "water"},
        value_map=WATER_MAP,
        description="Open water on the synthetic East Lake scene.",
        options=options,
        **kw,
    )


@pytest.fixture(scope="module")
def water(scenes: dict[str, Path], models_dir: Path) -> TrainingResult:
    steps: list[tuple[float, str]] = []
    result = _train_water(
        scenes,
        models_dir,
        "water-unet",
        TrainingOptions(time_budget_s=240, max_epochs=16, **FAST),  # steps, not seconds
        progress=lambda p, m: steps.append((p, m)),
    )
    percents = [p for p, _ in steps]
    assert percents == sorted(percents) and percents[0] == 0.0 and percents[-1] == 100.0
    assert any(m.startswith("epoch") for _, m in steps)
    return result


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def _iou(pred: np.ndarray, truth: np.ndarray) -> float:
    return float((pred & truth).sum() / (pred | truth).sum())


def _f1(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(2 * (pred & truth).sum() / (pred.sum() + truth.sum()))


def _holdout(result: TrainingResult, shape: tuple[int, int]) -> np.ndarray:
    split = result.card.dataset.split
    return SpatialSplit(
        shape[0], shape[1], int(split["block_px"]), float(split["holdout_share"]), split["seed"]
    ).holdout_mask()


def test_water_unet_scores_on_held_out_blocks(water: TrainingResult) -> None:
    scores = water.metrics.classes[str(WATER)]
    print(
        f"water U-Net: held-out IoU {scores.iou:.4f} F1 {scores.f1:.4f} "
        f"(precision {scores.precision:.4f}, recall {scores.recall:.4f}) after "
        f"{water.training_seconds:.1f} s, {water.epochs} epochs, stopped by {water.stopped_by}"
    )
    assert scores.iou is not None and scores.iou >= 0.8
    assert water.stopped_by == "epochs"  # a step budget: the same result on a busy machine
    assert water.metrics.pixels == water.card.dataset.holdout_pixels > 50_000


def test_card_describes_the_model(water: TrainingResult) -> None:
    folder = water.folder
    assert folder.name == "water-unet" and (folder / "model.pt").is_file()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no leftovers
    card = json.loads((folder / "card.json").read_text())
    assert card["name"] == "water-unet" and card["task"] == "segmentation"
    assert card["bands"] == ["blue", "green", "red", "nir", "swir16"]  # band descriptions
    assert card["classes"] == {
        "0": {"name": "other", "color": "#000000"},
        "1": {"name": "water", "color": "#1f6fd1"},
    }
    assert card["resolution_range"] == [5.0, 20.0]  # half to twice the 10 m pixels
    assert (card["chip_size"], card["overlap"], card["input_scale"]) == (512, 64, 1e-4)
    assert card["metrics"]["classes"]["1"]["iou"] == water.metrics.classes["1"].iou
    assert card["training_seconds"] == water.training_seconds and card["epochs"] > 1
    assert card["torch_version"] == torch.__version__ and card["created"].endswith("+00:00")
    dataset = card["dataset"]
    assert dataset["band_indexes"] == [BANDS] and dataset["images"][0].endswith("05-12.tif")
    assert dataset["split"]["seed"] == 0 and dataset["split"]["holdout_blocks"] == 9
    assert "scene-2024-05-12.tif" in dataset["description"]
    assert card["architecture"]["class"] == "inference.networks:UNet"
    assert len(card["sha256"]) == 64
    spec = water.spec
    assert spec.runnable and spec.weights is not None and spec.weights.kind == "torchscript"
    assert "held-out other IoU" in spec.description and "water IoU" in spec.description
    assert spec.description.startswith("Open water on the synthetic East Lake scene.")


def test_engine_runs_the_saved_model_over_the_scene(
    water: TrainingResult, scenes: dict[str, Path], models_dir: Path, tmp_path: Path
) -> None:
    registry = ModelRegistry()
    register_builtins(registry)
    assert register_user_models(models_dir, registry) == ["water-unet"]
    spec = registry.get("water-unet").spec
    model = registry.build("water-unet")
    assert isinstance(model, torch.jit.ScriptModule)
    out = tmp_path / "water.tif"
    with torch_threads(1):
        run_inference(
            model,
            [scenes["date1"]],
            out,
            bands=[BANDS],
            scale=spec.input_scale,
            chip=spec.chip_size,
            overlap=spec.overlap,
            class_values=spec.class_ids,
        )
    predicted, truth = _read(out), _read(scenes["truth1"])
    held = _holdout(water, truth.shape) & (truth != 0)
    iou = _iou(predicted[held] == WATER, truth[held] == WATER)
    whole = _iou(predicted[truth != 0] == WATER, truth[truth != 0] == WATER)
    print(f"water U-Net through the engine: held-out IoU {iou:.4f}, whole scene {whole:.4f}")
    assert iou >= 0.8
    assert (predicted[truth == 0] == 255).all()  # the nodata collar stays nodata


def test_training_stops_at_its_time_budget(scenes: dict[str, Path], models_dir: Path) -> None:
    result = _train_water(
        scenes, models_dir, "water-brief", TrainingOptions(time_budget_s=2, max_epochs=1000, **FAST)
    )
    assert result.stopped_by == "time" and result.epochs < 1000
    assert result.training_seconds < 2 + 5  # the budget, plus the step under way at most


def test_siamese_unet_learns_change(
    scenes: dict[str, Path], models_dir: Path, tmp_path: Path
) -> None:
    result = train_change(
        scenes["date1"],
        scenes["date2"],
        scenes["change"],
        bands=BANDS,
        name="change-unet",
        models_dir=models_dir,
        classes={0: "no change", 1: "change"},
        value_map=CHANGE_MAP,
        options=TrainingOptions(time_budget_s=240, max_epochs=10, **FAST),  # steps, not seconds
    )
    scores = result.metrics.classes["1"]
    print(
        f"change Siamese U-Net: held-out F1 {scores.f1:.4f} IoU {scores.iou:.4f} (precision "
        f"{scores.precision:.4f}, recall {scores.recall:.4f}, {scores.reference_pixels} changed "
        f"px) after {result.training_seconds:.1f} s, {result.epochs} epochs"
    )
    assert scores.f1 is not None and scores.f1 >= 0.7
    assert result.spec.task == "change" and result.spec.dates == 2
    assert result.card.architecture["class"] == "inference.networks:SiameseUNet"
    # the saved file through the engine: date 1 bands, then date 2 bands
    registry = ModelRegistry()
    assert "change-unet" in register_user_models(models_dir, registry)
    out = tmp_path / "change.tif"
    with torch_threads(1):
        run_inference(
            registry.build("change-unet"),
            [scenes["date1"], scenes["date2"]],
            out,
            bands=[BANDS, BANDS],
            scale=1e-4,
            chip=result.spec.chip_size,
            overlap=result.spec.overlap,
        )
    predicted, truth = _read(out), _read(scenes["change"])
    held = _holdout(result, truth.shape) & (truth != 255)
    f1 = _f1(predicted[held] == 1, (truth[held] >= 1))
    print(f"change Siamese U-Net through the engine: held-out F1 {f1:.4f}")
    assert f1 >= 0.7


def _polygonize_water(truth_path: Path, out: Path) -> None:
    """Water polygons of the truth mask, in EPSG:4326 (so training has to reproject them),
    with a ``kind`` attribute: 1 for water."""
    with rasterio.open(truth_path) as ds:
        truth, transform, crs = ds.read(1), ds.transform, ds.crs
    shapes = rasterio.features.shapes(
        (truth == WATER).astype(np.uint8), mask=truth == WATER, transform=transform
    )
    geoms = [shapely.geometry.shape(g) for g, _ in shapes]
    frame = gpd.GeoDataFrame({"kind": [1] * len(geoms)}, geometry=geoms, crs=crs)
    frame.to_crs(4326).to_file(out, driver="GeoJSON")


def test_vector_labels_match_the_mask_and_train(scenes: dict[str, Path], tmp_path: Path) -> None:
    vector = tmp_path / "water.geojson"
    _polygonize_water(scenes["truth1"], vector)
    grid = ImageGrid.of(scenes["date1"])
    window = rasterio.windows.Window(0, 0, grid.width, grid.height)
    truth = _read(scenes["truth1"])
    burnt = open_labels(vector, grid, class_field="kind").read(window)
    assert set(np.unique(burnt).tolist()) == {0, 1}
    agree = float(((burnt == WATER) == (truth == WATER)).mean())
    assert agree > 0.9999, agree
    # outside the polygons: ignored when there is no background class
    only = open_labels(vector, grid, background=None).read(window)
    assert set(np.unique(only).tolist()) == {1, IGNORE}

    result = train_segmentation(
        scenes["date1"],
        vector,
        bands=BANDS,
        name="water-from-polygons",
        models_dir=tmp_path / "models",
        class_field="kind",
        options=TrainingOptions(time_budget_s=90, max_epochs=8, **FAST),  # epochs, not seconds
    )
    scores = result.metrics.classes["1"]
    print(f"water U-Net from polygons: held-out IoU {scores.iou:.4f} in {result.epochs} epochs")
    assert result.spec.classes[0].name == "background" and result.spec.classes[1].name == "class 1"
    assert "polygons from water.geojson" in result.card.dataset.label_source
    assert scores.iou is not None and scores.iou >= 0.8
