"""What the H2O nodes share: the session options, opening the run's session, configure-time specs."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from deepnodes.core import NodeConfig, NodeError
from deepnodes.core import limits
from deepnodes.core.ui import ui

SESSION = "H2O session"


class SessionConfig(NodeConfig):
    """The options of the H2O session a node uses (the first H2O node of a run starts it, the others reuse it)."""

    cluster_url: str = Field("", max_length=500, description="an existing H2O cluster (http://host:54321); empty = "
                             "start a local H2O on 127.0.0.1", json_schema_extra=ui(group=SESSION))
    max_mem_size: str = Field("1G", max_length=20, description="memory of the local H2O (the JVM's -Xmx), "
                              "e.g. '1G' or '512M'", json_schema_extra=ui(group=SESSION))
    nthreads: int = Field(2, ge=-1, le=limits.THREADS, description="threads of the local H2O (-1 = all cores)",
                          json_schema_extra=ui(group=SESSION))
    port: int = Field(0, ge=0, le=65534, description="port of the local H2O; 0 = the first free one from 54321",
                      json_schema_extra=ui(group=SESSION))


def require_h2o() -> None:
    import importlib.util

    if importlib.util.find_spec("h2o") is None:
        raise NodeError("the H2O nodes need the 'h2o' package (pip install 'deepnodes[h2o]') and Java")


def open_session(config: SessionConfig, ctx):
    """The run's H2O session (started on first use, about 9 s), released when the run ends."""
    require_h2o()
    from deepnodes.h2o.session import SessionOptions, acquire, memory_bytes

    memory_bytes(config.max_mem_size)
    opts = SessionOptions(config.cluster_url.strip(), config.max_mem_size, config.nthreads, config.port)
    return acquire(opts, getattr(ctx, "resources", None), progress=lambda m: ctx.progress(None, m), log=ctx.log)


def model_spec(algorithm: str, spec, target: str, features: list[str], task: str):
    """The H2O model spec a learner will produce, worked out from the training table's spec."""
    from deepnodes.core.model import ModelSpec
    from deepnodes.h2o.frames import resolve_columns
    from deepnodes.ml.features import task_for

    if not target:
        raise NodeError("option 'target_column' is empty; choose the column to predict")
    col = spec.column(target, option="target_column")
    task = task_for(col.kind, task, target)
    feats = resolve_columns(spec, features, target)
    return ModelSpec("h2o", {"algorithm": algorithm, "task": task, "target": target, "target_kind": col.kind,
                             "class_names": list(col.categories) if col.categories else None,
                             "features": [f.to_json() for f in feats]})


def check_session_options(config: SessionConfig) -> None:
    from deepnodes.h2o.session import memory_bytes

    if not config.cluster_url:
        memory_bytes(config.max_mem_size)
    elif not config.cluster_url.startswith(("http://", "https://")):
        raise NodeError(f"option 'cluster_url' '{config.cluster_url[:200]}' is not an http:// or https:// URL")


def put_scores(ctx, scores: dict[str, Any]) -> None:
    for k, v in scores.items():
        ctx.result(k, round(float(v), 6))
