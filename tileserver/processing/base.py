"""What a processing tool is: a pydantic inputs model plus a ``run`` that writes datasets.

Like titiler's algorithms, a tool is declared, not wired: its inputs model doubles as the JSON
schema ``GET /processes/{id}`` publishes (the viewer builds forms from it), and the registry
refuses two tools with one name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from tileserver.errors import NotFoundError
from tileserver.registry import Registry

if TYPE_CHECKING:
    from tileserver.catalog import Catalog
    from tileserver.processing.context import JobContext


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

    @abstractmethod
    def run(self, params: Any, ctx: JobContext) -> ProcessResult:
        """Do the work by blocks, reporting progress through ``ctx``."""

    def check(self, params: Any, catalog: Catalog) -> None:
        """Refuse inputs that cannot work (400) before a job is queued; cheap checks only."""
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


PROCESSES: Registry[Process] = Registry("process", not_found=ProcessNotFound)


def register(process: Process) -> Process:
    return PROCESSES.register(process.id, process)
