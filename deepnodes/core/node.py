"""The `Node` base class, the execution context, and the errors nodes raise.

A node declares its ports and a pydantic `Config`, computes output specs from input specs in
`configure` (no data), and computes outputs from inputs in `execute`. The engine is the only caller.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import DEFAULT_REF_TEMPLATE, GenerateJsonSchema, NoDefault
from pydantic_core import to_jsonable_python

from .ports import Port


class NodeError(Exception):
    """A problem a user can fix, worded as one sentence. The engine prefixes the node's label."""


class Cancelled(Exception):
    """Raised by `ExecutionContext.check_cancelled` when the run was cancelled."""


class ConfigSchema(GenerateJsonSchema):
    """JSON schemas whose `default` is the real default everywhere: a field made by a factory
    (`Field(default_factory=...)`) shows the value the factory makes, as a plain default does."""

    def get_default_value(self, schema):
        factory = schema.get("default_factory")
        if factory is None or schema.get("default_factory_takes_data"):
            return super().get_default_value(schema)
        try:
            return to_jsonable_python(factory())
        except Exception:  # a factory whose value is not JSON has no default to show
            return NoDefault


class NodeConfig(BaseModel):
    """Base class of node configs: unknown options are refused, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=(), defer_build=True)

    @classmethod
    def model_json_schema(cls, by_alias=True, ref_template=DEFAULT_REF_TEMPLATE, schema_generator=ConfigSchema,
                          mode="validation", **kw):
        return super().model_json_schema(by_alias=by_alias, ref_template=ref_template,
                                         schema_generator=schema_generator, mode=mode, **kw)


class Node:
    """Base class of all nodes. Subclasses are registered with `@node(...)` (see `registry`)."""

    type_id: ClassVar[str] = ""
    name: ClassVar[str] = ""
    category: ClassVar[str] = ""
    description: ClassVar[str] = ""
    inputs: ClassVar[list[Port]] = []
    outputs: ClassVar[list[Port]] = []
    #: whether results may be reused from the cache (False for nodes whose result depends on more than config + inputs)
    cacheable: ClassVar[bool] = True

    class Config(NodeConfig):
        pass

    def __init__(self, config: "NodeConfig | dict | None" = None, label: str = ""):
        if config is None:
            config = self.Config()
        elif isinstance(config, dict):
            config = self.Config.model_validate(config)
        self.config = config
        self.label = label or self.name

    # ---- to override
    def configure(self, specs: list[Any]) -> list[Any]:
        """Output specs from input specs (None where an optional input is not connected or a spec is unknown)."""
        return [None] * len(self.outputs)

    def execute(self, inputs: list[Any], ctx: "ExecutionContext") -> list[Any]:
        raise NotImplementedError

    def signature_extra(self) -> str:
        """Extra text for the cache key: e.g. a file's size and modification time for a reader."""
        return ""

    # ---- helpers for subclasses
    @classmethod
    def ports_json(cls) -> dict:
        return {"inputs": [p.to_json() for p in cls.inputs], "outputs": [p.to_json() for p in cls.outputs]}


class ExecutionContext:
    """What a running node may use: progress, logs, metrics, scalar results, cancellation and stop requests."""

    def __init__(self, node_id: str, emit: Callable[[dict], None], cancel_event: threading.Event,
                 stop_event: threading.Event | None = None, device: str | None = None):
        self.node_id = node_id
        self._emit = emit
        self._cancel = cancel_event
        self._stop = stop_event or threading.Event()
        self.scalars: dict[str, float | int | str] = {}
        self.device = device
        #: the workflow file's folder (None for a workflow not loaded from a file): where a node's default output
        #: folders go (the Learner's MLflow store), so they do not depend on the current directory
        self.folder = None

    def progress(self, fraction: float | None, message: str = "") -> None:
        self._emit({"type": "progress", "node": self.node_id, "fraction": fraction, "message": message})

    def log(self, line: str, level: str = "info") -> None:
        self._emit({"type": "log", "node": self.node_id, "level": level, "line": line})

    def warn(self, line: str) -> None:
        self.log(line, "warning")

    def metrics(self, values: dict[str, float], *, step: int | None = None, epoch: int | None = None,
                kind: str = "batch") -> None:
        """Training metrics; `kind` is 'batch' or 'epoch'."""
        self._emit({"type": "metrics", "node": self.node_id, "kind": kind, "step": step, "epoch": epoch,
                    "values": values})

    def result(self, name: str, value: float | int | str) -> None:
        """A scalar result (accuracy, loss...) shown in `deepnodes run --report`."""
        self.scalars[name] = value

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def stop_requested(self) -> bool:
        """A user asked this node to stop early and keep what it has (the Learner's Stop button)."""
        return self._stop.is_set()
