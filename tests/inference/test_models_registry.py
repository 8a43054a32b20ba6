"""ModelSpec validation, the model registry, and plug-ins through real entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from inference.models import (
    MODELS,
    NO_WEIGHTS_REASON,
    ClassInfo,
    ModelAlreadyRegistered,
    ModelNotFound,
    ModelNotRunnable,
    ModelPluginError,
    ModelRegistry,
    ModelSpec,
    WeightsSpec,
    build,
    load_entry_points,
)

ROOT = Path(__file__).resolve().parents[2]
TWO_CLASSES = {0: ClassInfo(name="land", color="#000000"), 1: ClassInfo(name="x", color="#ffffff")}


def _spec(name: str = "tiny", **kw: Any) -> ModelSpec:
    fields: dict[str, Any] = {
        "name": name,
        "title": "Tiny",
        "task": "segmentation",
        "bands": ["red", "nir"],
        "classes": TWO_CLASSES,
        "weights": WeightsSpec(kind="builtin"),
        **kw,
    }
    return ModelSpec.model_validate(fields)


class Halves(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 2, *x.shape[2:]), 0.5)


def test_spec_contract_properties() -> None:
    spec = _spec(classes={3: TWO_CLASSES[1], 1: TWO_CLASSES[0]})
    assert spec.class_ids == [1, 3]
    assert (spec.in_channels, spec.out_channels) == (2, 2)
    assert spec.runnable and spec.reason is None
    dumped = spec.model_dump()
    assert dumped["runnable"] is True and dumped["classes"][3]["name"] == "x"
    change = _spec(task="change", dates=2)
    assert change.in_channels == 4


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"task": "change"}, "two dates"),
        ({"dates": 2}, "one date"),
        ({"task": "enhancement"}, "values, not classes"),
        ({"classes": {1: TWO_CLASSES[1]}}, "at least two classes"),
        ({"chip_size": 64, "overlap": 32}, "half the chip"),
        ({"resolution_range": (30.0, 10.0)}, "resolution_range"),
        ({"weights": None}, "needs weights"),
        ({"name": "Not A Slug"}, "pattern"),
        ({"classes": {0: {"name": "a", "color": "red"}, 1: TWO_CLASSES[1]}}, "pattern"),
    ],
)
def test_spec_validation_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _spec(**fields)


def test_weights_spec_validation() -> None:
    with pytest.raises(ValidationError, match="need a path"):
        WeightsSpec(kind="onnx")
    with pytest.raises(ValidationError, match="class_path"):
        WeightsSpec(kind="state_dict", path="w.pt")
    assert WeightsSpec(kind="state_dict", path="w.pt", class_path="pkg.mod:Net").class_kwargs == {}


def test_registry_refuses_duplicates_unless_overwrite() -> None:
    registry = ModelRegistry()
    registry.register(_spec(), lambda spec: Halves())
    with pytest.raises(ModelAlreadyRegistered, match="already registered"):
        registry.register(_spec(title="Other"), lambda spec: Halves())
    registry.register(_spec(title="Other"), lambda spec: Halves(), overwrite=True)
    assert registry.get("TINY").spec.title == "Other"
    assert registry.list() == ["tiny"] and "tiny" in registry and len(registry) == 1
    with pytest.raises(ModelNotFound, match="Known: tiny"):
        registry.get("nope")
    with pytest.raises(ValueError, match="no factory"):
        registry.register(_spec("other"))


def test_build_gives_eval_module_without_gradients() -> None:
    registry = ModelRegistry()

    class Conv(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 2, 1)
            self.drop = torch.nn.Dropout(0.5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.drop(self.conv(x)), dim=1)

    registry.register(_spec(), lambda spec: Conv())
    model = registry.build("tiny")
    assert not model.training
    assert all(not p.requires_grad for p in model.parameters())


def test_builtin_catalogue_and_slots() -> None:
    names = set(MODELS.list())
    assert {"water-optical", "water-sar", "landcover-spectral", "change-cva", "dehaze"} <= names
    slots = [name for name in MODELS.list() if MODELS.get(name).spec.slot]
    for name in slots:
        spec = MODELS.get(name).spec
        if name.startswith("cloud-mask"):
            continue
        assert spec.slot and not spec.runnable and spec.reason == NO_WEIGHTS_REASON
        with pytest.raises(ModelNotRunnable, match="cogsight train"):
            build(name)
    zero_sample = ["field-parcel", "building-change", "cropland-change"]
    assert all(MODELS.get(name).spec.runnable for name in zero_sample)
    cloud = MODELS.get("cloud-mask").spec
    try:
        import ukis_csmask  # noqa: F401
    except ImportError:
        assert not cloud.runnable and "pip install cogsight[cloudmask]" in (cloud.reason or "")
    assert MODELS.get("change-cva").spec.in_channels == 8
    assert MODELS.get("dehaze").spec.out_channels == 3


def test_importing_models_does_not_import_torch() -> None:
    code = (
        "import sys, inference.models as m; "
        "assert m.MODELS.get('water-optical').spec.needs_fit; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert not any(k.startswith('tileserver') for k in sys.modules), 'web app imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def _fake_distribution(root: Path, dist: str, module: str, body: str, entry: str) -> None:
    """A minimal installed distribution on disk: a module plus <dist>-1.0.dist-info."""
    (root / f"{module}.py").write_text(textwrap.dedent(body), encoding="utf-8")
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(f"[cogsight.models]\n{entry}\n", encoding="utf-8")


PLUGIN = """
import torch
from inference.models import ClassInfo, ModelSpec, WeightsSpec

CLASSES = {0: ClassInfo(name="a", color="#000000"), 1: ClassInfo(name="b", color="#ffffff")}


class Quarter(torch.nn.Module):
    def forward(self, x):
        out = torch.full((x.shape[0], 2, *x.shape[2:]), 0.25)
        out[:, 1] = 0.75
        return out


def spec(name):
    return ModelSpec(name=name, title=name, task="segmentation", bands=["red"],
                     classes=CLASSES, weights=WeightsSpec(kind="builtin"))


def models():
    return [(spec("plugin-one"), lambda s: Quarter()), (spec("plugin-two"), __name__ + ":make")]


def make(s):
    return Quarter()


single = (spec("plugin-single"), make)
"""


def test_entry_points_register_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_distribution(
        tmp_path,
        "cogsight_fake_plugin",
        "cogsight_fake_plugin_mod",
        PLUGIN,
        "many = cogsight_fake_plugin_mod:models\nsingle = cogsight_fake_plugin_mod:single",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ModelRegistry()
    names = load_entry_points(registry)
    assert sorted(names) == ["plugin-one", "plugin-single", "plugin-two"]
    assert load_entry_points(registry) == []  # idempotent
    x = torch.zeros(1, 1, 4, 4)
    for name in names:
        out = registry.build(name)(x)
        assert out.shape == (1, 2, 4, 4) and torch.allclose(out[:, 1], torch.tensor(0.75))


def test_entry_point_clash_and_broken_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_distribution(
        tmp_path,
        "cogsight_bad_plugin",
        "cogsight_bad_plugin_mod",
        "from inference.models import MODELS\n"
        "def clash():\n    return (MODELS.get('water-optical').spec, None)\n"
        "def broken():\n    return 42\n",
        "clash = cogsight_bad_plugin_mod:clash\nbroken = cogsight_bad_plugin_mod:broken",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ModelRegistry()
    registry.register(MODELS.get("water-optical").spec, MODELS.get("water-optical").factory)
    with pytest.raises(ModelPluginError):
        load_entry_points(registry)
    with pytest.warns(UserWarning) as caught:
        assert load_entry_points(registry, strict=False) == []
    messages = " ".join(str(w.message) for w in caught)
    assert "already registered" in messages and "not (spec, factory)" in messages
