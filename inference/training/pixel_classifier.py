"""A pixel classifier on multi-scale filter features: a random forest (or gradient boosting)
learnt from sparse labelled pixels (polygons, strokes, points), trained in seconds on a CPU.

Training reads the image block by block with a halo (``FeatureSet.halo``), keeps the features
of labelled pixels only (at most ``max_samples`` per class, drawn with a fixed seed), fits the
scikit-learn estimator and scores it on labelled pixels of held-out blocks. Prediction is
block-wise with the same halo, so block seams do not show and memory stays bounded.

Saved models: the estimator is serialised with skops (a format that loads only allow-listed
scikit-learn types, never arbitrary pickled code) into a uint8 tensor of a torch state dict,
so the registry loads it like any state-dict model (``PixelClassifierNet``), checksum first.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from inference.cores import available_cores
from inference.models.errors import TrainingError, WeightsError
from inference.training.pixel_features import FeatureSet, pixel_features

Estimator = Literal["random-forest", "gradient-boosting"]
ReadBlock = Callable[[int, int, int, int], np.ndarray]
"""(row, col, rows, cols) -> (C, rows, cols) float32 image values of that window."""

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.")
"""Types a saved estimator may contain (skops refuses anything else)."""


def make_estimator(kind: Estimator, trees: int, seed: int, threads: int | None) -> Any:
    """A scikit-learn classifier with fixed settings (balanced classes, seeded)."""
    if kind == "gradient-boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            max_iter=trees, class_weight="balanced", random_state=seed
        )
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=trees,
        min_samples_leaf=2,
        max_features="sqrt",
        class_weight="balanced",
        n_jobs=threads or available_cores(),  # trees are built and read in parallel
        random_state=seed,
    )


def in_threads() -> AbstractContextManager[Any]:
    """joblib's threading backend for a forest's trees: its default (processes) is refused in
    a daemon process such as a Dask worker, where it would fall back to one core."""
    import joblib

    return joblib.parallel_config(backend="threading")


@dataclass
class PixelClassifier:
    """A fitted estimator and the features it reads; ``class_ids[i]`` is output channel i."""

    estimator: Any
    features: FeatureSet
    class_ids: list[int]
    log_input: bool = True

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """Band values as features see them: log of values >= 1 (brightness ratios, not
        differences), so shade and sun give similar textures."""
        image = np.nan_to_num(image.astype(np.float32, copy=False))
        return np.log(np.maximum(image, 1.0)) if self.log_input else image

    def probabilities(self, image: np.ndarray, *, block: int = 512) -> np.ndarray:
        """(K, H, W) float32 class probabilities of a whole (C, H, W) array, block-wise."""
        _, rows, cols = image.shape
        return predict_blocks(
            self, lambda r, c, h, w: image[:, r : r + h, c : c + w], rows, cols, block
        )

    def block_probabilities(self, values: np.ndarray) -> np.ndarray:
        """(K, H, W) probabilities of one (C, H, W) window (edges mirrored).

        A constant window (blank, all nodata, the engine's probe chip) has the same features
        at every pixel, so one pixel is predicted and repeated: exact, and free."""
        bands, rows, cols = values.shape
        flat_bands = values.reshape(bands, -1)
        if rows * cols > 9 and (flat_bands == flat_bands[:, :1]).all():
            one = self.block_probabilities(np.ascontiguousarray(values[:, :3, :3]))[:, :1, :1]
            return np.repeat(np.repeat(one, rows, axis=1), cols, axis=2)
        feats = pixel_features(self.prepare(values), self.features)
        flat = feats.reshape(feats.shape[0], -1).T
        proba = np.empty((flat.shape[0], len(self.class_ids)), dtype=np.float32)
        step = 262_144  # bounds the estimator's temporary arrays
        with in_threads():
            for start in range(0, flat.shape[0], step):
                proba[start : start + step] = self.estimator.predict_proba(
                    flat[start : start + step]
                )
        return proba.T.reshape(len(self.class_ids), *values.shape[1:])


def predict_blocks(
    model: PixelClassifier, read: ReadBlock, rows: int, cols: int, block: int = 512
) -> np.ndarray:
    """(K, rows, cols) probabilities, each ``block`` read with ``model.features.halo`` pixels
    of context (clipped at the image edge) and cropped back: blocks meet without seams."""
    halo = model.features.halo
    out = np.empty((len(model.class_ids), rows, cols), dtype=np.float32)
    for r in range(0, rows, block):
        for c in range(0, cols, block):
            h, w = min(block, rows - r), min(block, cols - c)
            r0, c0 = max(0, r - halo), max(0, c - halo)
            r1, c1 = min(rows, r + h + halo), min(cols, c + w + halo)
            proba = model.block_probabilities(read(r0, c0, r1 - r0, c1 - c0))
            out[:, r : r + h, c : c + w] = proba[:, r - r0 : r - r0 + h, c - c0 : c - c0 + w]
    return out


def labelled_features(
    read: ReadBlock,
    read_labels: Callable[[int, int, int, int], np.ndarray],
    rows: int,
    cols: int,
    features: FeatureSet,
    *,
    log_input: bool,
    ignore: int,
    block: int = 512,
    tile: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (N, F), labels (N,) and block index (N,) of every labelled pixel, in the order
    of the ``block``-sized blocks (row-major, numbered from 1: the held-out unit).

    Features are computed per ``tile`` (a multiple of ``block``, default twice it) with its
    halo, so the halo is paid once per tile rather than per block; tiles without labels cost
    one label read only."""
    tile = max(block, (tile or 2 * block) // block * block)
    probe = PixelClassifier(None, features, [], log_input)
    halo = features.halo
    per_row = -(-cols // block)
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for tr in range(0, rows, tile):
        for tc in range(0, cols, tile):
            th, tw = min(tile, rows - tr), min(tile, cols - tc)
            labels = read_labels(tr, tc, th, tw)
            if not (labels != ignore).any():
                continue
            r0, c0 = max(0, tr - halo), max(0, tc - halo)
            r1, c1 = min(rows, tr + th + halo), min(cols, tc + tw + halo)
            feats = pixel_features(probe.prepare(read(r0, c0, r1 - r0, c1 - c0)), features)
            for r in range(0, th, block):
                for c in range(0, tw, block):
                    part = labels[r : r + block, c : c + block]
                    mask = part != ignore
                    if not mask.any():
                        continue
                    h, w = part.shape
                    inner = feats[:, tr + r - r0 : tr + r - r0 + h, tc + c - c0 : tc + c - c0 + w]
                    index = ((tr + r) // block) * per_row + (tc + c) // block + 1
                    found[index] = (inner[:, mask].T.copy(), part[mask].astype(np.int64))
            del feats
    if not found:
        raise TrainingError("the samples label no pixel of the image")
    order = sorted(found)
    xs = [found[i][0] for i in order]
    ys = [found[i][1] for i in order]
    bs = [np.full(len(found[i][1]), i, dtype=np.int64) for i in order]
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(bs)


def cap_per_class(labels: np.ndarray, most: int, seed: int) -> np.ndarray:
    """Indexes keeping at most ``most`` pixels of each class (a seeded random draw)."""
    rng = np.random.default_rng(seed)
    keep = []
    for value in np.unique(labels):
        where = np.flatnonzero(labels == value)
        keep.append(where if len(where) <= most else rng.choice(where, most, replace=False))
    return np.sort(np.concatenate(keep))


# -- saving and loading through the registry's state-dict loader --------------------------


def serialize(model: PixelClassifier) -> bytes:
    import skops.io

    return skops.io.dumps(model.estimator)


def deserialize(payload: bytes) -> Any:
    """The estimator in ``payload``; WeightsError when it holds a type outside scikit-learn."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=payload)
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise WeightsError(f"the pixel classifier holds types that are not loaded: {refused}")
    return skops.io.loads(payload, trusted=untrusted)


def state_dict_of(model: PixelClassifier) -> dict[str, torch.Tensor]:
    payload = serialize(model)
    return {"payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8).clone()}


class PixelClassifierNet(torch.nn.Module):
    """The registry's face of a saved pixel classifier: float32 (B, C, H, W) in, class
    probabilities (B, K, H, W) out (the model call contract). The estimator is rebuilt from
    the ``payload`` buffer on first use; chips are predicted block-wise with the halo inside
    them, and the engine's chip overlap blends their edges."""

    def __init__(
        self,
        payload_size: int,
        class_ids: Sequence[int],
        features: dict[str, Any],
        log_input: bool = True,
    ) -> None:
        super().__init__()
        self.register_buffer("payload", torch.zeros(int(payload_size), dtype=torch.uint8))
        self.class_ids = [int(c) for c in class_ids]
        self.features = FeatureSet.model_validate(features)
        self.log_input = log_input
        self._model: PixelClassifier | None = None

    def classifier(self) -> PixelClassifier:
        if self._model is None:
            buffer: torch.Tensor = self.get_buffer("payload")
            payload = buffer.cpu().numpy().tobytes()
            estimator = deserialize(payload)
            if hasattr(estimator, "n_jobs"):  # the cores here, not those of the trainer
                estimator.n_jobs = available_cores()
            self._model = PixelClassifier(estimator, self.features, self.class_ids, self.log_input)
        return self._model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        model = self.classifier()
        chips = x.detach().to("cpu", torch.float32).numpy()
        out = np.stack([model.probabilities(chip) for chip in chips])
        return torch.from_numpy(out).to(x.device)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None  # rebuilt from the buffer where it lands (a Dask worker)
        return state


def load_state(module: PixelClassifierNet, state: dict[str, torch.Tensor]) -> None:
    """Put a saved state dict into a module (tests and the trainer's check)."""
    module.load_state_dict(state)
    module.classifier()


def as_bytes(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()
