"""What a processing tool is: a pydantic inputs model plus a ``run`` that writes datasets.

Like titiler's algorithms, a tool is declared, not wired: its inputs model doubles as the JSON
schema ``GET /processes/{id}`` publishes (the viewer builds forms from it), and the registry
refuses two tools with one name. An input that names a dataset is typed ``DatasetId`` (alone,
in a list, optional or nested), so the API finds every such input from the model itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, Field

from tileserver.errors import NotFoundError
from tileserver.registry import Registry

if TYPE_CHECKING:
    from tileserver.auth.schemas import Principal
    from tileserver.catalog import Catalog
    from tileserver.processing.context import JobContext
    from tileserver.processing.estimate import WorkEstimate
    from tileserver.settings import Settings


class DatasetRef:
    """Marks a ``str`` input as the id of a catalog dataset (see ``DatasetId``)."""

    def __repr__(self) -> str:
        return "DatasetRef()"


DatasetId = Annotated[str, DatasetRef()]
"""A process input naming a dataset: it must exist and be visible to the caller (404 else)."""


def _marked(metadata: Any) -> bool:
    return any(isinstance(m, DatasetRef) for m in metadata)


def _walk(annotation: Any, value: Any, marked: bool) -> Iterator[tuple[bool, str]]:
    """(marked, text) for every string inside ``value``, typed by ``annotation``."""
    if value is None:
        return
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        yield from _walk(inner, value, marked or _marked(metadata))
        return
    if isinstance(value, str):
        arms = get_args(annotation) if _is_union(origin) else ()
        yield marked or any(_holds_marked_str(a) for a in arms), value
        return
    if isinstance(value, BaseModel):
        yield from _fields(value, marked)
        return
    args = [a for a in get_args(annotation) if a is not type(None)]
    if _is_union(origin):
        kinds = [a for a in args if _accepts(a, value)] or args
        for arg in kinds[:1]:
            yield from _walk(arg, value, marked)
        return
    if isinstance(value, dict):
        item = args[-1] if args else Any
        for sub in value.values():
            yield from _walk(item, sub, marked)
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            pairs = list(zip(args, items, strict=False))
        else:
            pairs = [(args[0] if args else Any, item) for item in items]
        for item_type, item in pairs:
            yield from _walk(item_type, item, marked)


def _is_union(origin: Any) -> bool:
    import types

    return origin is Union or origin is types.UnionType


def _holds_marked_str(annotation: Any) -> bool:
    return get_origin(annotation) is Annotated and _marked(get_args(annotation)[1:])


def _accepts(annotation: Any, value: Any) -> bool:
    """Whether ``value`` is of the (outer) type ``annotation`` names, for picking a union arm."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    base = get_origin(annotation) or annotation
    return isinstance(base, type) and isinstance(value, base)


def _fields(params: BaseModel, marked: bool = False) -> Iterator[tuple[bool, str]]:
    for name, info in type(params).model_fields.items():
        mark = marked or _marked(info.metadata)
        yield from _walk(info.annotation, getattr(params, name), mark)


def dataset_ids(params: BaseModel) -> list[str]:
    """Every dataset id in validated inputs: the strings of ``DatasetId`` fields, whatever the
    field is called and however deep it sits (lists, optionals, nested models), in order."""
    return list(dict.fromkeys(text for marked, text in _fields(params) if marked))


def other_strings(params: BaseModel) -> list[str]:
    """Every other string in validated inputs (titles, names, expressions ...)."""
    marked = set(dataset_ids(params))
    return list(dict.fromkeys(t for m, t in _fields(params) if not m and t not in marked))


def _typed_fields(model: type[BaseModel]) -> list[str]:
    def holds(annotation: Any) -> bool:
        if get_origin(annotation) is Annotated and _marked(get_args(annotation)[1:]):
            return True
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return bool(_typed_fields(annotation))
        return any(holds(a) for a in get_args(annotation))

    return [
        name
        for name, info in model.model_fields.items()
        if _marked(info.metadata) or holds(info.annotation)
    ]


def dataset_fields(model: type[BaseModel]) -> list[str]:
    """Names of the fields of ``model`` that name datasets: those typed with ``DatasetId``
    somewhere inside."""
    return _typed_fields(model)


def text_fields(model: type[BaseModel]) -> set[str]:
    """Names of the top-level fields of ``model`` that take only text (or nothing), so a
    command line that reads ``key=value`` as JSON keeps such a value as written: an id of
    digits only, or a title like ``2024``, is text there, not a number."""
    schema = model.model_json_schema()
    out = set()
    for name, prop in schema.get("properties", {}).items():
        arms = prop.get("anyOf", [prop])
        kinds = set()
        for arm in arms:
            if "enum" in arm or "const" in arm:
                values = arm.get("enum", [arm.get("const")])
                kinds |= {"string" if isinstance(v, str) else "other" for v in values}
            else:
                kinds.add(arm.get("type", "other"))
        if "string" in kinds and kinds <= {"string", "null"}:
            out.add(name)
    return out


class ProcessNotFound(NotFoundError):
    code = "process_not_found"


class ProcessResult(BaseModel):
    """What a run produced: new dataset ids plus any values (metrics, file links)."""

    datasets: list[str] = Field(default_factory=list)
    values: dict[str, Any] = Field(default_factory=dict)


class Process(ABC):
    id: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    inputs: ClassVar[type[BaseModel]]
    outputs: ClassVar[dict[str, str]] = {"datasets": "ids of the datasets written"}
    sync_ok: ClassVar[bool] = True
    # who may see the process: tools and built-in models are everyone's; a trained model
    # carries its trainer and a visibility, filtered per request (the registry is global)
    owner: str | None = None
    visibility: str = "public"

    @abstractmethod
    def run(self, params: Any, ctx: JobContext) -> ProcessResult:
        """Do the work by blocks, reporting progress through ``ctx``."""

    def check(self, params: Any, catalog: Catalog) -> None:
        """Refuse inputs that cannot work (400) before a job is queued; cheap checks only."""
        return None

    def estimate(self, params: Any, catalog: Catalog, settings: Settings) -> WorkEstimate:
        """Output pixels, blocks, scratch and output bytes of a run, from the inputs and the
        catalog (headers at most), so ``check_work`` refuses too much before a job is queued.
        Every process that writes anything overrides it; the default is no work."""
        from tileserver.processing.estimate import NOTHING

        return NOTHING

    def authorize(self, params: Any, principal: Principal, anonymous_read: bool = True) -> None:
        """Refuse what this caller may not do with these inputs (beyond reading the datasets
        they name, which the API checks for every process) before a job is queued."""
        return None

    def describe(self) -> dict[str, Any]:
        schema = self.inputs.model_json_schema()
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "version": "1.0.0",
            "jobControlOptions": ["async-execute", "sync-execute", "dismiss"],
            "outputTransmission": ["value"],
            "inputs": {
                name: {"title": prop.get("title", name), "schema": prop}
                for name, prop in schema.get("properties", {}).items()
            },
            "inputsSchema": schema,
            "outputs": {
                k: {"title": v, "schema": {"type": "array"}} for k, v in self.outputs.items()
            },
        }


PROCESSES: Registry[Process] = Registry("process", not_found=ProcessNotFound, list_known=False)


def register(process: Process) -> Process:
    return PROCESSES.register(process.id, process)
