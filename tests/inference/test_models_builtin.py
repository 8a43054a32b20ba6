"""The built-in physically based models on the seeded synthetic demo scenes (values asserted).

Scenes come from tileserver.demo (seed 42): a 512 x 512 px window centred on East Lake
(EPSG:32650, 10 m) for water and land cover, the full 768 px East Lake scene for change
(the two clearings lie ~270 px from its centre). Metrics are printed (pytest -s shows them).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rasterio.transform import from_origin

from inference.models import MODELS, Fittable, ModelFitError, build
from inference.models.builtin.layers import box_filter
from tileserver.demo import make_optical_scene
from tileserver.demo.landscape import change_mask
from tileserver.demo.scenes import make_sar_scene, scene_grid

SEED = 42
CRS = "EPSG:32650"
WINDOW = from_origin(248030.0, 3385170.0, 10.0, 10.0)  # 512 px around East Lake
WATER, VEGETATION = 1, 2


def _iou(pred: np.ndarray, truth: np.ndarray) -> float:
    return float((pred & truth).sum() / (pred | truth).sum())


def _fittable(name: str) -> Fittable:
    model = build(name)
    assert isinstance(model, Fittable) and getattr(model, "needs_fit", False)
    return model


def _run(name: str, image: np.ndarray, fit_on: np.ndarray | None = None) -> np.ndarray:
    """Build, fit on a 4x decimated copy (if the model needs it), one forward pass (B=1)."""
    model = build(name)
    if MODELS.get(name).spec.needs_fit:
        sample = image[:, ::4, ::4] if fit_on is None else fit_on
        assert isinstance(model, Fittable)
        model.fit(sample, np.ones(sample.shape[1:], dtype=bool))
    with torch.inference_mode():
        return model(torch.from_numpy(image)[None])[0].numpy()


@pytest.fixture(scope="module")
def optical() -> tuple[np.ndarray, np.ndarray]:
    data, classes = make_optical_scene((512, 512), WINDOW, CRS, seed=SEED)
    return data.astype(np.float32) * 1e-4, classes


@pytest.fixture(scope="module")
def two_dates() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    grid = scene_grid()
    d0, c0 = make_optical_scene(grid.shape, grid.transform, grid.crs, SEED, date_variant=0)
    d1, c1 = make_optical_scene(grid.shape, grid.transform, grid.crs, SEED, date_variant=1)
    return d0.astype(np.float32) * 1e-4, d1.astype(np.float32) * 1e-4, change_mask(c0, c1)


def test_water_optical_iou(optical: tuple[np.ndarray, np.ndarray]) -> None:
    data, classes = optical
    image = data[[1, 4]]  # green, swir16 (the spec's band order)
    probs = _run("water-optical", image)
    assert probs.shape == (2, 512, 512)
    assert np.allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    iou = _iou(probs.argmax(axis=0) == 1, classes == WATER)
    ndwi_iou = _iou(_run("water-optical-ndwi", data[[1, 3]]).argmax(axis=0) == 1, classes == WATER)
    print(f"water-optical IoU {iou:.4f}, water-optical-ndwi IoU {ndwi_iou:.4f}")
    assert iou >= 0.9
    assert ndwi_iou >= 0.9


def test_global_fit_makes_chips_agree_with_whole_image(
    optical: tuple[np.ndarray, np.ndarray],
) -> None:
    """One fit, any chip: the left and right halves run separately equal the whole run."""
    image = optical[0][[1, 4]]
    model = _fittable("water-optical")
    model.fit(image[:, ::4, ::4])
    assert isinstance(model, torch.nn.Module)
    with torch.inference_mode():
        whole = model(torch.from_numpy(image)[None])
        halves = torch.cat(
            [model(torch.from_numpy(image[:, :, :256])[None]),
             model(torch.from_numpy(image[:, :, 256:])[None])],
            dim=3,
        )  # fmt: skip
    assert torch.equal(whole, halves)
    # probabilities are continuous: a soft band around the threshold, not a hard step
    water = whole[0, 1].numpy()
    assert ((water > 0.05) & (water < 0.95)).any()
    # the fit travels in the state dict (to other workers)
    other = build("water-optical")
    other.load_state_dict(model.state_dict())
    with torch.inference_mode():
        assert torch.equal(other(torch.from_numpy(image)[None]), whole)


def test_forward_before_fit_is_refused(optical: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ModelFitError, match="call fit"), torch.inference_mode():
        build("water-optical")(torch.zeros(1, 2, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"), torch.inference_mode():
        build("water-optical")(torch.zeros(1, 3, 8, 8))


def test_water_optical_keeps_the_water_line_on_an_image_without_water(
    optical: tuple[np.ndarray, np.ndarray],
) -> None:
    """No water mode to split: MNDWI > 0, the index's own line, maps (almost) no water
    instead of failing the job."""
    data, classes = optical
    land = data[[1, 4]][:, classes == VEGETATION][:, : 128 * 128].reshape(2, 128, 128)
    model = _fittable("water-optical")
    info = model.fit(land)
    assert info["threshold"] == 0.0 and "no distinct water class" in str(info["method"])
    with torch.inference_mode():
        water = model(torch.from_numpy(np.ascontiguousarray(land))[None])[0, 1].numpy() > 0.5
    assert water.mean() < 0.01


@pytest.fixture(scope="module")
def sar() -> tuple[np.ndarray, np.ndarray]:
    return make_sar_scene((512, 512), WINDOW, CRS, seed=SEED)


def test_water_sar_iou(sar: tuple[np.ndarray, np.ndarray]) -> None:
    data, classes = sar
    probs = _run("water-sar", data)
    assert np.allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    iou = _iou(probs.argmax(axis=0) == 1, classes == WATER)
    vv_iou = _iou(_run("water-sar-vv", data[:1]).argmax(axis=0) == 1, classes == WATER)
    print(f"water-sar IoU {iou:.4f}, water-sar-vv IoU {vv_iou:.4f}")
    assert iou >= 0.85
    assert vv_iou >= 0.8


def test_water_sar_nodata_collar_is_ignored() -> None:
    data, classes = make_sar_scene((256, 256), WINDOW, CRS, seed=SEED, collar=True)
    valid = np.asarray((data > -9000).all(axis=0))
    model = _fittable("water-sar")
    model.fit(data[:, ::2, ::2], valid[::2, ::2])
    assert isinstance(model, torch.nn.Module)
    with torch.inference_mode():
        water = model(torch.from_numpy(data)[None])[0].argmax(dim=0).numpy() == 1
    assert _iou(water & valid, (classes == WATER) & valid) >= 0.85


def test_water_sar_refuses_pure_vegetation(sar: tuple[np.ndarray, np.ndarray]) -> None:
    data, classes = sar
    rng = np.random.default_rng(0)
    pixels = data[:, classes == VEGETATION]
    pick = rng.choice(pixels.shape[1], 256 * 256, replace=False)
    vegetation = pixels[:, pick].reshape(2, 256, 256)
    with pytest.raises(ModelFitError, match="no distinct water class in this image"):
        _fittable("water-sar").fit(vegetation)


def test_landcover_overall_accuracy(optical: tuple[np.ndarray, np.ndarray]) -> None:
    data, classes = optical
    probs = _run("landcover-spectral", data)
    assert probs.shape == (7, 512, 512)  # class 7, grassland, comes from the no-SWIR rules only
    assert np.allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    ids = np.array(MODELS.get("landcover-spectral").spec.class_ids)
    pred = ids[probs.argmax(axis=0)]
    accuracy = float((pred == classes).mean())
    per_class = {k: float((pred[classes == k] == k).mean()) for k in range(1, 6)}
    print(f"landcover-spectral OA {accuracy:.4f}, per-class recall {per_class}")
    assert accuracy >= 0.8


def test_landcover_sees_clouds() -> None:
    cloud = np.full((5, 4, 4), 0.55, dtype=np.float32)
    probs = _run("landcover-spectral", cloud)
    assert (probs.argmax(axis=0) == 5).all()  # channel 5 is class id 6, cloud/snow


def test_change_cva(two_dates: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    d0, d1, truth = two_dates
    image = np.concatenate([d0[1:], d1[1:]])  # green, red, nir, swir16 of each date
    probs = _run("change-cva", image)
    assert probs.shape == (5, 768, 768)
    assert np.allclose(probs.sum(axis=0), 1.0, atol=1e-5) and probs.min() >= 0
    pred = probs.argmax(axis=0)
    valid = truth != 255
    changed, flagged = (truth > 0) & valid, (pred > 0) & valid
    tp = (changed & flagged).sum()
    precision, recall = tp / flagged.sum(), tp / changed.sum()
    f1 = 2 * precision * recall / (precision + recall)
    agree = float((pred[changed] == truth[changed]).mean())
    per_type = {k: float((pred[truth == k] == k).mean()) for k in range(1, 5)}
    print(
        f"change-cva precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f}; "
        f"direction agreement {agree:.4f}, per type {per_type}"
    )
    assert f1 >= 0.85
    assert agree >= 0.7


def test_dehaze_recovers_scene(optical: tuple[np.ndarray, np.ndarray]) -> None:
    clear = optical[0][[0, 1, 2]]  # blue, green, red
    h, w = clear.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w] / h
    t = (0.15 + 0.75 * xx**0.7 + 0.03 * np.sin(6 * yy)).astype(np.float32)
    airlight = np.array([0.30, 0.28, 0.26], dtype=np.float32)[:, None, None]
    hazy = clear * t + airlight * (1 - t)  # I = J t + A (1 - t)
    model = _fittable("dehaze")
    info = model.fit(hazy[:, ::4, ::4])
    assert isinstance(model, torch.nn.Module)
    with torch.inference_mode():
        out = model(torch.from_numpy(hazy)[None])[0].numpy()
    assert out.shape == hazy.shape

    def local_contrast(x: np.ndarray) -> float:
        tensor = torch.from_numpy(np.ascontiguousarray(x))[None]
        return float((tensor - box_filter(tensor, 2)).std())

    before, after = np.abs(hazy - clear).mean(), np.abs(out - clear).mean()
    contrast = (local_contrast(clear), local_contrast(hazy), local_contrast(out))
    print(
        f"dehaze airlight {np.round(info['airlight'], 3)} (true 0.30/0.28/0.26); "
        f"MAE hazy {before:.4f} -> dehazed {after:.4f}; local contrast "
        f"clear/hazy/dehazed {contrast[0]:.4f}/{contrast[1]:.4f}/{contrast[2]:.4f}"
    )
    assert np.allclose(info["airlight"], airlight.ravel(), atol=0.05)
    assert after < 0.35 * before and after < 0.03
    assert contrast[2] > 1.3 * contrast[1]
