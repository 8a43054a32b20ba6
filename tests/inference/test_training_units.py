"""The parts of training on small generated rasters (no training run longer than a second or two):
the networks' contract, the spatial split and block reads, chip sampling, label sources, the
atomic export and the registry of trained models (discovery, slots, name clashes)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from rasterio.windows import Window

torch = pytest.importorskip("torch")

from inference.metrics import ConfusionMatrix  # noqa: E402
from inference.models import (  # noqa: E402
    ClassInfo,
    ModelAlreadyRegistered,
    ModelCardError,
    ModelRegistry,
    ModelSpec,
    TrainingError,
)
from inference.models.builtin import register_builtins  # noqa: E402
from inference.models.user_models import (  # noqa: E402
    discover,
    register_user_models,
)
from inference.networks import SiameseUNet, UNet  # noqa: E402
from inference.training import ModelCard, TrainingOptions, train_segmentation  # noqa: E402
from inference.training.card import TrainingDataset  # noqa: E402
from inference.training.export import save_model  # noqa: E402
from inference.training.labels import IGNORE, ImageGrid, open_labels  # noqa: E402
from inference.training.sampling import (  # noqa: E402
    ChipSampler,
    ImageReader,
    SpatialSplit,
    class_lut,
    read_samples,
)
from inference.training.trainer import torch_threads, train_loop  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CRS = "EPSG:32650"
TRANSFORM = from_origin(250000.0, 3380000.0, 10.0, 10.0)


def _write(path: Path, data: np.ndarray, nodata: float | None = None, **kw: object) -> Path:
    data = data[None] if data.ndim == 2 else data
    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": CRS,
        "transform": TRANSFORM,
        "nodata": nodata,
        **kw,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


# --- networks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_networks_follow_the_contract_and_script(norm: str) -> None:
    torch.manual_seed(0)
    for net in (UNet(3, 4, width=8, norm=norm), SiameseUNet(3, 2, width=8, norm=norm)):
        net.eval()
        x = torch.rand(2, net.in_channels, 37, 50)  # not multiples of 8: padded, then cropped
        with torch.inference_mode():
            probs = net(x)
            scripted = torch.jit.script(net)(x)
        assert probs.shape == (2, net.classes, 37, 50) and probs.dtype == torch.float32
        assert (probs >= 0).all() and torch.allclose(probs.sum(dim=1), torch.ones(2, 37, 50))
        assert torch.allclose(scripted, probs, atol=1e-6)
        with pytest.raises(ValueError, match="expected"):
            net(torch.rand(1, net.in_channels + 1, 16, 16))


def test_siamese_unet_sees_the_order_of_dates() -> None:
    torch.manual_seed(0)
    net = SiameseUNet(2, 3, width=8).eval()
    one, two = torch.rand(1, 2, 32, 32), torch.rand(1, 2, 32, 32)
    with torch.inference_mode():
        forward = net(torch.cat([one, two], dim=1))
        backward = net(torch.cat([two, one], dim=1))
    assert not torch.allclose(forward, backward)  # direction of change is kept (concat skips)


# --- split, block reads, chips ----------------------------------------------------------------


def test_spatial_split_is_seeded_and_covers_the_image() -> None:
    split = SpatialSplit(300, 520, 128, holdout=0.25, seed=7)
    assert split.row_edges == [0, 128, 300]  # a 44 px tail joins the last block
    assert split.col_edges == [0, 128, 256, 384, 520]
    assert split.shape == (2, 4) and split.held_out().sum() == 2
    assert (split.held_out() == SpatialSplit(300, 520, 128, 0.25, 7).held_out()).all()
    others = [SpatialSplit(300, 520, 128, 0.25, s).held_out() for s in range(8)]
    assert any((o != split.held_out()).any() for o in others)
    mask = split.holdout_mask()
    for window, held in split.windows():
        rows, cols = window.toslices()
        assert (mask[rows, cols] == held).all()
    assert split.describe()["holdout_blocks"] == 2
    with pytest.raises(TrainingError, match="smaller block"):
        SpatialSplit(100, 150, 80)  # two blocks


def test_blocks_read_keep_held_out_labels_out_of_training(tmp_path: Path) -> None:
    split = SpatialSplit(256, 256, 64, holdout=0.25, seed=3)
    rng = np.random.default_rng(0)
    image = _write(tmp_path / "image.tif", rng.integers(1, 10000, (2, 256, 256), dtype=np.uint16))
    labels = _write(tmp_path / "labels.tif", split.holdout_mask().astype(np.uint8) + 1)
    grid = ImageGrid.of(image)
    with ImageReader([image], [[1, 2]], 1e-4) as reader:
        source = open_labels(labels, grid)
        samples = read_samples(reader, source, split, budget_pixels=10**9, margin=16)
        assert len(samples.train) == 12 and len(samples.holdout) == 4
        assert all((b.labels == 1).all() for b in samples.train)  # training blocks only
        assert all((b.labels == 2).all() for b in samples.holdout)
        held = samples.holdout[0]
        assert held.image.shape[1] > held.labels.shape[0]  # read with context around it
        assert held.image.dtype == np.float32 and held.image.max() <= 1.0
        small = read_samples(reader, source, split, budget_pixels=64 * 64 * 4)
        assert len(small.train) == 3 and len(small.holdout) == 1  # the budget, in its shares
        sampler = ChipSampler(samples.train, 32, class_lut([1, 2]), seed=0)
        x, y = sampler.batch(8)
        assert x.shape == (8, 2, 32, 32) and y.shape == (8, 32, 32)
        assert set(np.unique(y).tolist()) == {0}  # channel 0 = class 1; never class 2


def test_sampler_centres_chips_on_rare_classes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    image = _write(tmp_path / "image.tif", rng.integers(1, 10000, (1, 256, 256), dtype=np.uint16))
    truth = np.zeros((256, 256), dtype=np.uint8)
    truth[200:204, 40:44] = 1  # 16 px of 65536
    labels = _write(tmp_path / "labels.tif", truth, nodata=255)
    split = SpatialSplit(256, 256, 64, holdout=0.1, seed=0)
    assert not split.holdout_mask()[200, 40]
    with ImageReader([image], [[1]], 1e-4) as reader:
        source = open_labels(labels, ImageGrid.of(image))
        samples = read_samples(reader, source, split, budget_pixels=10**9)
    sampler = ChipSampler(samples.train, 32, class_lut([0, 1]), balance=0.5, seed=0)
    _, y = sampler.batch(200)
    with_rare = (y == 1).any(axis=(1, 2)).mean()
    assert 0.15 < with_rare < 0.4  # about half of the balanced half; ~0 without balancing


# --- labels -----------------------------------------------------------------------------------


def test_raster_labels_value_map_nodata_and_other_grids(tmp_path: Path) -> None:
    values = np.array([[0, 1, 2, 3], [4, 5, 9, 1]] * 2, dtype=np.uint8)
    path = _write(tmp_path / "classes.tif", values, nodata=0)
    grid = ImageGrid(CRS, TRANSFORM, 4, 4)
    window = Window(0, 0, 4, 4)
    plain = open_labels(path, grid).read(window)
    assert plain[0].tolist() == [IGNORE, 1, 2, 3]
    mapped = open_labels(path, grid, value_map={1: 1, 2: 0, 3: 0}).read(window)
    assert mapped[:2].tolist() == [[IGNORE, 1, 0, 0], [IGNORE, IGNORE, IGNORE, 1]]
    # a label raster at 5 m on a 10 m image: warped by nearest neighbour onto the image grid
    fine = np.kron(values, np.ones((2, 2), dtype=np.uint8))
    fine_transform = from_origin(250000.0, 3380000.0, 5.0, 5.0)
    fine_path = _write(tmp_path / "fine.tif", fine, nodata=0, transform=fine_transform)
    warped = open_labels(fine_path, grid).read(window)
    assert (warped == plain).all()
    big = _write(tmp_path / "big.tif", np.full((4, 4), 300, dtype=np.uint16))
    with pytest.raises(TrainingError, match="value_map"):
        open_labels(big, grid).read(window)


def test_vector_labels_fields_and_errors(tmp_path: Path) -> None:
    grid = ImageGrid(CRS, TRANSFORM, 10, 10)
    x0, y0 = 250000.0, 3380000.0
    frame = gpd.GeoDataFrame(
        {"cls": [2, 3], "name": ["a", "b"]},
        geometry=[
            shapely.box(x0, y0 - 50, x0 + 50, y0),
            shapely.box(x0 + 50, y0 - 100, x0 + 100, y0 - 50),
        ],
        crs=CRS,
    )
    path = tmp_path / "labels.gpkg"
    frame.to_file(path)
    window = Window(0, 0, 10, 10)
    burnt = open_labels(path, grid, class_field="cls").read(window)
    assert (burnt[:5, :5] == 2).all() and (burnt[5:, 5:] == 3).all() and burnt[0, 9] == 0
    assert (open_labels(path, grid).read(window)[:5, :5] == 1).all()  # constant class 1
    part = open_labels(path, grid, class_field="cls", background=None).read(Window(5, 5, 5, 5))
    assert (part == 3).all()
    with pytest.raises(TrainingError, match=r"no field 'kind' \(fields: cls, name\)"):
        open_labels(path, grid, class_field="kind")
    with pytest.raises(TrainingError, match="integers"):
        open_labels(path, grid, class_field="name")
    with pytest.raises(TrainingError, match="not found"):
        open_labels(tmp_path / "missing.geojson", grid)


# --- trainer ----------------------------------------------------------------------------------


def test_epoch_cap_and_threads(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    data = rng.integers(1, 10000, (2, 128, 128), dtype=np.uint16)
    image = _write(tmp_path / "image.tif", data)
    labels = _write(tmp_path / "labels.tif", (data[0] > 5000).astype(np.uint8))
    split = SpatialSplit(128, 128, 32, holdout=0.25, seed=0)
    with ImageReader([image], [[1, 2]], 1e-4) as reader:
        source = open_labels(labels, ImageGrid.of(image))
        samples = read_samples(reader, source, split, budget_pixels=10**9)
    sampler = ChipSampler(samples.train, 16, class_lut([0, 1]), seed=0)
    options = TrainingOptions(max_epochs=2, batch=8, chip=16, time_budget_s=60, width=4)
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
        outcome = train_loop(UNet(2, 2, width=4), sampler, options, torch.device("cpu"))
    assert torch.get_num_threads() == before
    assert outcome.stopped_by == "epochs" and outcome.epochs == 2.0
    assert outcome.steps == 2 * -(-sampler.chips_per_epoch() // 8)


# --- saving and the registry of trained models ------------------------------------------------


def _card(name: str, task: str = "segmentation", bands: int = 3) -> ModelCard:
    matrix = ConfusionMatrix([0, 1])
    matrix.add(np.array([0, 1, 1]), np.array([0, 1, 0]))
    return ModelCard(
        name=name,
        title=name.title(),
        task=task,  # type: ignore[arg-type]
        bands=["red", "green", "blue"][:bands],
        dates=2 if task == "change" else 1,
        classes={
            0: ClassInfo(name="background", color="#000000"),
            1: ClassInfo(name="thing", color="#d0433a"),
        },
        chip_size=256,
        overlap=32,
        resolution_range=(0.5, 2.0),
        input_scale=1e-4,
        architecture={"class": "inference.networks:UNet"},
        metrics=matrix.report(),
        dataset=TrainingDataset(
            description="test",
            images=["a.tif"],
            band_indexes=[[1, 2, 3]],
            labels="l.tif",
            label_source="test",
            split={},
            train_pixels=1,
            holdout_pixels=1,
            pixel_size_m=1.0,
        ),
        training_seconds=1.0,
        epochs=1.0,
        steps=1,
        stopped_by="epochs",
        created="2024-01-01T00:00:00+00:00",
        torch_version=torch.__version__,
    )


def _save(models_dir: Path, name: str, task: str = "segmentation", **kw: bool) -> Path:
    net = SiameseUNet(3, 2, width=4) if task == "change" else UNet(3, 2, width=4)
    folder, _ = save_model(net, _card(name, task), models_dir, overwrite=kw.get("overwrite", False))
    return folder


def _registry() -> ModelRegistry:
    """The built-ins plus two slots (every built-in tool runs, so slots come from plug-ins)."""
    registry = ModelRegistry()
    register_builtins(registry)
    binary = {
        0: ClassInfo(name="background", color="#000000"),
        1: ClassInfo(name="shed", color="#ff0000"),
    }
    for name, task, dates in (("sheds", "segmentation", 1), ("sheds-change", "change", 2)):
        spec = ModelSpec(
            name=name, title=f"{name} (slot)", task=task, dates=dates,
            bands=["red", "green", "blue"], classes=binary, slot=True,
        )  # fmt: skip
        registry.register(spec, None)
    return registry


def test_save_is_atomic_and_refuses_to_replace_silently(tmp_path: Path) -> None:
    folder = _save(tmp_path, "thing")
    first = (folder / "card.json").read_text()
    assert json.loads(first)["sha256"]
    with pytest.raises(TrainingError, match="overwrite"):
        _save(tmp_path, "thing")
    _save(tmp_path, "thing", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thing"]  # no temporary folders left
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "model.pt"]


def test_user_models_register_fill_slots_and_refuse_builtin_names(tmp_path: Path) -> None:
    registry = _registry()
    assert not registry.get("sheds").spec.runnable
    _save(tmp_path, "sheds")  # fills the slot
    _save(tmp_path, "roofs")
    (tmp_path / ".half-written.tmp").mkdir()
    pairs = discover(tmp_path)
    assert [spec.name for spec, _ in pairs] == ["roofs", "sheds"]
    assert register_user_models(tmp_path, registry) == ["roofs", "sheds"]
    entry = registry.get("sheds")
    assert entry.spec.runnable and entry.spec.title == "Sheds"
    with torch.inference_mode():
        probs = registry.build("sheds")(torch.rand(1, 3, 64, 64))
    assert probs.shape == (1, 2, 64, 64)
    assert register_user_models(tmp_path, registry) == ["roofs", "sheds"]  # again: harmless

    # the folder goes: the trained model goes, the slot comes back
    for name in ("roofs", "sheds"):
        for f in (tmp_path / name).iterdir():
            f.unlink()
        (tmp_path / name).rmdir()
    assert register_user_models(tmp_path, registry) == []
    assert "roofs" not in registry and not registry.get("sheds").spec.runnable

    _save(tmp_path, "water-optical")
    with pytest.raises(ModelAlreadyRegistered, match="built-in"):
        register_user_models(tmp_path, registry)
    assert registry.get("water-optical").spec.weights.kind == "builtin"  # type: ignore[union-attr]


def test_slot_of_another_task_and_broken_cards(tmp_path: Path) -> None:
    registry = _registry()
    _save(tmp_path, "sheds-change", task="segmentation")  # the slot is a change model
    with pytest.raises(ModelAlreadyRegistered, match="slot for a change model"):
        register_user_models(tmp_path, registry)
    (tmp_path / "sheds-change" / "card.json").write_text("{not json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert discover(tmp_path) == []
    assert "not a valid model card" in str(caught[0].message)
    with pytest.raises(ModelCardError, match="not a valid model card"):
        discover(tmp_path, strict=True)
    assert discover(tmp_path / "nowhere") == []


def test_training_refuses_bad_names_before_reading(tmp_path: Path) -> None:
    kw = {"bands": [1], "models_dir": tmp_path}
    with pytest.raises(ModelAlreadyRegistered, match="built-in"):
        train_segmentation("missing.tif", "missing.tif", name="water-optical", **kw)  # type: ignore[arg-type]
    with pytest.raises(TrainingError, match="lower-case"):
        train_segmentation("missing.tif", "missing.tif", name="Bad Name", **kw)  # type: ignore[arg-type]
    with pytest.raises(TrainingError, match="image not found"):
        train_segmentation("missing.tif", "missing.tif", name="fine", **kw)  # type: ignore[arg-type]
    (tmp_path / "taken").mkdir()
    with pytest.raises(TrainingError, match="exists already"):
        train_segmentation("missing.tif", "missing.tif", name="taken", **kw)  # type: ignore[arg-type]


def test_listing_trained_models_imports_no_torch(tmp_path: Path) -> None:
    _save(tmp_path, "roofs")
    code = (
        "import sys\n"
        "from inference.models import MODELS\n"
        "from inference.models.user_models import register_user_models\n"
        f"assert register_user_models({str(tmp_path)!r}) == ['roofs']\n"
        "assert MODELS.get('roofs').spec.runnable\n"
        "import inference.training\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
