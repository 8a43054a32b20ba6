"""The model registry: get / list / register, and register refuses silent overwrites.

The same shape as the web app's registries (tileserver/registry.py, after morecantile), written
again here because `inference` must not depend on the web app. It is torch-free: listing
models and reading their specs imports no torch; `build` imports the network code lazily.

Plug-ins: a distribution may declare entry points in the group `cogsight.models`, each
naming an object that is a `(spec, factory)` pair, a list of them, or a zero-argument
callable returning either. `load_entry_points()` registers them (call it once at start-up,
e.g. from the CLI or the job runner; calling it again is harmless).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from inference.models.base import ModelSpec
from inference.models.errors import (
    ModelAlreadyRegistered,
    ModelNotFound,
    ModelNotRunnable,
    ModelPluginError,
)

if TYPE_CHECKING:
    import torch

ENTRY_POINT_GROUP = "cogsight.models"

# A factory builds the network from its spec. A "pkg.module:attr" string is imported only
# when the model is built (keeps listing torch-free). None: build from spec.weights.
Factory = Callable[[ModelSpec], Any] | str | None


def import_object(path: str) -> Any:
    """Import "pkg.module:attr.sub" and return the attribute."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ValueError(f"expected 'pkg.module:attr', got {path!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its spec and how to build it."""

    spec: ModelSpec
    factory: Factory = None

    def build(self, bands: Sequence[str] | None = None) -> torch.nn.Module:
        """The network in eval mode with gradients off. Raises ModelNotRunnable for slots.

        ``bands``: the band set the engine will feed (one of ``spec.band_sets``); the factory
        gets the spec narrowed to it, so a module can tell apart sets of one length."""
        if not self.spec.runnable:
            raise ModelNotRunnable(f"Model '{self.spec.name}' is not runnable: {self.spec.reason}")
        if self.factory is None:
            from inference.models.loaders import load_weights

            module = load_weights(self.spec)
        else:
            factory = import_object(self.factory) if isinstance(self.factory, str) else self.factory
            module = factory(self.narrowed(bands))
        module.eval()
        for param in module.parameters():
            param.requires_grad_(False)
        return module

    def narrowed(self, bands: Sequence[str] | None) -> ModelSpec:
        """The spec for one of its band sets (the spec itself for None or ``spec.bands``)."""
        if bands is None or list(bands) == self.spec.bands:
            return self.spec
        if list(bands) not in self.spec.band_sets:
            raise ValueError(
                f"Model '{self.spec.name}' takes the bands {self.spec.band_sets_text}, "
                f"not ({', '.join(bands)})"
            )
        return self.spec.model_copy(update={"bands": list(bands), "band_options": []})


class ModelRegistry:
    """Models by name (case-insensitive)."""

    kind = "model"

    def __init__(self) -> None:
        self._items: dict[str, ModelEntry] = {}

    def register(
        self, spec: ModelSpec, factory: Factory = None, *, overwrite: bool = False
    ) -> ModelEntry:
        """Add a model. A factory is required unless the spec is a slot or has loadable
        (non-builtin) weights. Refuses an existing name unless overwrite=True."""
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"expected a ModelSpec, got {type(spec).__name__}")
        if factory is None and spec.runnable and spec.weights and spec.weights.kind == "builtin":
            raise ValueError(f"Model '{spec.name}' has builtin weights but no factory")
        key = spec.name.lower()
        if key in self._items and not overwrite:
            raise ModelAlreadyRegistered(
                f"A model named '{spec.name}' is already registered "
                "(pass overwrite=True to replace it)."
            )
        entry = ModelEntry(spec, factory)
        self._items[key] = entry
        return entry

    def get(self, name: str) -> ModelEntry:
        try:
            return self._items[name.lower()]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise ModelNotFound(f"Unknown model '{name}'. Known: {known}.") from None

    def specs(self) -> list[ModelSpec]:
        """Every spec, sorted by name (for listings)."""
        return [self._items[k].spec for k in sorted(self._items)]

    def list(self) -> list[str]:
        """Registered names, sorted (slots included; see spec.runnable)."""
        return sorted(self._items)

    def build(self, name: str, bands: Sequence[str] | None = None) -> torch.nn.Module:
        return self.get(name).build(bands)

    def unregister(self, name: str) -> None:
        """Remove a model (tests, plug-in reloads)."""
        self.get(name)
        del self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self._items[k] for k in sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)


MODELS = ModelRegistry()


def build(name: str, bands: Sequence[str] | None = None) -> torch.nn.Module:
    """Build a registered model (eval mode, no gradients) for the band set ``bands``."""
    return MODELS.build(name, bands)


def _pairs(obj: Any, where: str) -> list[tuple[ModelSpec, Factory]]:
    if callable(obj) and not isinstance(obj, (tuple, list)):
        obj = obj()
    items = [obj] if isinstance(obj, tuple) else obj
    if not isinstance(items, list):
        raise ModelPluginError(f"{where} returned {type(obj).__name__}, not (spec, factory)")
    out = []
    for item in items:
        if (
            not isinstance(item, tuple)
            or len(item) != 2
            or not isinstance(item[0], ModelSpec)
            or not (item[1] is None or isinstance(item[1], str) or callable(item[1]))
        ):
            raise ModelPluginError(f"{where} must give (ModelSpec, factory) pairs, got {item!r}")
        out.append((item[0], item[1]))
    return out


_LOADED: set[tuple[int, str]] = set()


def load_entry_points(
    registry: ModelRegistry | None = None,
    *,
    group: str = ENTRY_POINT_GROUP,
    strict: bool = True,
) -> list[str]:
    """Register the models of every installed `cogsight.models` entry point.

    Returns the names registered by this call. Entry points already loaded into this
    registry are skipped, so calling it twice is harmless. A broken plug-in or a name clash
    raises ModelPluginError (strict) or is skipped with a warning (strict=False).
    """
    registry = MODELS if registry is None else registry
    names: list[str] = []
    for ep in entry_points(group=group):
        key = (id(registry), _ep_key(ep))
        if key in _LOADED:
            continue
        where = f"entry point '{ep.name} = {ep.value}'"
        try:
            pairs = _pairs(ep.load(), where)
            for spec, _factory in pairs:
                if spec.name in registry:
                    raise ModelAlreadyRegistered(
                        f"{where} registers '{spec.name}', which is already registered"
                    )
            for spec, factory in pairs:
                registry.register(spec, factory)
                names.append(spec.name)
        except Exception as exc:
            message = str(exc) if isinstance(exc, ModelPluginError) else f"{where}: {exc}"
            if strict:
                raise ModelPluginError(message) from exc
            warnings.warn(message, stacklevel=2)
            continue
        _LOADED.add(key)
    return names


def _ep_key(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    dist_name = dist.metadata["Name"] if dist is not None else ""
    return f"{dist_name}:{ep.group}:{ep.name}:{ep.value}"
