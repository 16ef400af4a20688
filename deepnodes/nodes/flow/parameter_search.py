"""Parameter Search: runs a body once per trial with options drawn from a search space (Optuna: grid, random or
TPE), keeps one row per trial and the best configuration. Each trial is an ordinary keyed run of the body, so a
trial with options already tried is a cache hit; with `study_file` the study is stored (Optuna's SQLite storage)
and a stopped search resumes where it was."""
from __future__ import annotations

import threading
import time
from typing import Any, Literal

from pydantic import Field

from deepnodes.core import Cancelled, NodeConfig, NodeError, Out, WorkflowError, node
from deepnodes.core import limits
from deepnodes.core.ui import ui
from deepnodes.core.component import configure_body, run_body

from .component import BodyOptions, Component


class Param(NodeConfig):
    option: str = Field(description="the body's option to vary, as node.option")
    kind: Literal["float", "int", "choice"] = Field("float", description="a float range, an int range or choices")
    low: float | None = Field(None, ge=-1e15, le=1e15, description="lowest value of a range")
    high: float | None = Field(None, ge=-1e15, le=1e15, description="highest value of a range")
    log: bool = Field(False, description="draw a range on a log scale")
    choices: list[Any] = Field(default_factory=list, description="the values of a choice")


_RAY = {"backend": ["ray"]}
_OUTS = [Out("trials", "table", "one row per trial: number, parameters, objective, state, seconds"),
         Out("best", "table", "the best trial's parameters (parameter, value) and its objective")]


@node("deepnodes.flow.ParameterSearch", name="Parameter Search", category="Flow/Loops")
class ParameterSearch(Component):
    """Searches a body's options for the best value of one of its scalar results (`objective`, as
    node.result: 'scorer.accuracy'), with Optuna's grid, random or TPE sampler. Its inputs are the body's
    Component Inputs. Shows trial k of n; a cancel ends after the current trial and keeps the finished ones.
    With backend 'ray' the trials run in parallel as Ray Tune trials (ASHA prunes; a cancel stops them at once)."""

    class Config(BodyOptions):
        space: dict[str, Param] = Field(default_factory=dict, description="parameter name -> what to vary")
        objective: str = Field("", description="the body's scalar result to optimise, as node.result")
        direction: Literal["maximize", "minimize"] = Field("maximize", description="maximise or minimise it")
        strategy: Literal["grid", "random", "tpe"] = Field("tpe", description="how trials are chosen")
        trials: int = Field(16, ge=1, le=limits.EPOCHS, description="number of trials (a grid stops when done)")
        grid_points: int = Field(3, ge=2, le=limits.EPOCHS, description="values per float range on a grid")
        seed: int = Field(0, ge=0, le=limits.SEED, description="random seed of the sampler")
        pruning: bool = Field(False, description="stop clearly worse trials early (Optuna's median pruner)")
        prune_on: str = Field("learner.accuracy", description="the per-epoch metric the pruner compares, as "
                              "node.metric; it must improve in the objective's direction")
        prune_startup_trials: int = Field(2, ge=0, le=limits.EPOCHS,
                                          description="trials that finish before the pruner prunes any")
        prune_warmup_epochs: int = Field(1, ge=0, le=limits.EPOCHS, description="epochs a trial always trains")
        study_file: str = Field("", description="SQLite file the study is kept in (empty: in memory); "
                                "an existing study resumes", json_schema_extra={"x-path": "file"})
        backend: Literal["local", "ray"] = Field("local", description="run the trials here one after another "
                                                 "(local) or in parallel as Ray Tune trials (ray)",
                                                 json_schema_extra=ui(group="Scale out"))
        address: str = Field("", description="Ray cluster: empty starts a local Ray with this machine's cores, "
                             "'auto' joins the cluster this machine belongs to",
                             json_schema_extra=ui(group="Scale out", show_if=_RAY))
        max_concurrent: int = Field(0, ge=0, le=limits.EPOCHS, description="trials running at once "
                                    "(0: as many as the cluster's resources allow)",
                                    json_schema_extra=ui(group="Scale out", show_if=_RAY))
        cpus_per_trial: float = Field(1.0, ge=0, le=4096, description="CPUs Ray reserves for each trial",
                                      json_schema_extra=ui(group="Scale out", show_if=_RAY))
        gpus_per_trial: float = Field(0.0, ge=0, le=64, description="GPUs Ray reserves for each trial "
                                      "(more than 0: the body trains on CUDA)",
                                      json_schema_extra=ui(group="Scale out", show_if=_RAY))
        prune_reduction_factor: int = Field(2, ge=2, le=100, description="with Ray: ASHA keeps the best "
                                            "1/factor of the trials at each rung (2: better than the median)",
                                            json_schema_extra=ui(group="Scale out", show_if=_RAY))

    def __init__(self, config=None, label: str = ""):
        super().__init__(config, label)
        self.outputs = list(_OUTS)

    @classmethod
    def ports_for(cls, config: dict, node_id: str = "search"):
        return super().ports_for(config, node_id)[0], list(_OUTS)

    def configure(self, specs):
        c = self.config
        if not c.space:
            raise NodeError(f"the search space is empty; add a parameter to option 'space'")
        node_id, _, result = c.objective.partition(".")
        body = self.checked_body()
        if node_id not in body.workflow.nodes or not result:
            raise NodeError(f"option 'objective' is '{c.objective}'; it names a scalar result "
                            f"of a body node as node.result (body nodes: {', '.join(body.workflow.nodes)})")
        if c.pruning and c.prune_on.partition(".")[0] not in body.workflow.nodes:
            raise NodeError(f"option 'prune_on' is '{c.prune_on}'; it names a per-epoch metric "
                            f"of a body node (a learner) as node.metric")
        for name, p in c.space.items():
            if p.kind == "choice" and not p.choices:
                raise NodeError(f"parameter '{name}' is a choice without choices")
            if p.kind != "choice" and (p.low is None or p.high is None or p.low > p.high or (p.log and p.low <= 0)):
                raise NodeError(f"parameter '{name}' needs low <= high"
                                + (" and low > 0 on a log scale" if p.log else ""))
            self._trial_body({name: p.choices[0] if p.kind == "choice" else p.low})  # the option exists
        if c.backend == "ray":  # before anything runs: Ray is there and the address is one
            from deepnodes.core.ray_runtime import check_address, require_ray

            require_ray("backend")
            check_address(c.address, "address")
        # the body configures on these inputs; the key covers every inner key
        _, self._signature = configure_body(body, {p.name: s for p, s in zip(self.inputs, specs)}, self.label)
        return [None, None]

    def signature_extra(self) -> str:
        from deepnodes.core.cache_key import files_signature

        # a stored study holds trials made elsewhere: its file's size and time count as a reader's do
        return self._signature + (files_signature([self.config.study_file]) if self.config.study_file else "")

    def _trial_body(self, values: dict):
        c = self.config
        cfg = c.model_dump(mode="json")
        cfg["expose"] = {**c.expose, **{n: p.option for n, p in c.space.items() if n in values}}
        cfg.update({n: (int(v) if c.space[n].kind == "int" else v) for n, v in values.items()})
        try:
            return self.load_body(cfg)
        except (NodeError, WorkflowError) as e:
            raise NodeError(str(e).replace("exposed option", "search parameter")) from None

    def _sampler(self, optuna, resumed: int):
        import numpy as np

        c = self.config
        # a resumed study draws on from where it was: the seed also names the trials already made, else a resumed
        # random or TPE sampler would propose its first points again
        seed = int(np.random.SeedSequence([c.seed & 0xFFFF_FFFF, c.seed >> 32, resumed]).generate_state(1)[0])
        if c.strategy == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if c.strategy == "tpe":
            return optuna.samplers.TPESampler(seed=seed)

        grid = {}
        for n, p in c.space.items():
            if p.kind == "choice":
                grid[n] = list(p.choices)
            elif p.kind == "int":
                grid[n] = list(range(int(p.low), int(p.high) + 1))
            else:
                pts = np.geomspace(p.low, p.high, c.grid_points) if p.log else np.linspace(p.low, p.high, c.grid_points)
                grid[n] = [float(x) for x in pts]
        return optuna.samplers.GridSampler(grid, seed=c.seed)  # grid ids index its order: keep it

    def _grid_size(self) -> int:
        """Points a grid search has (a sampler of another strategy draws without end)."""
        import math

        c = self.config
        if c.strategy != "grid":
            return c.trials
        return math.prod(len(p.choices) if p.kind == "choice" else
                         (int(p.high) - int(p.low) + 1) if p.kind == "int" else c.grid_points
                         for p in c.space.values())

    def execute(self, inputs, ctx):
        import optuna
        import pyarrow as pa

        from deepnodes.core.ports import PORT_TYPES

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        c = self.config
        feeds = {p.name: (PORT_TYPES[p.type].io.spec_of(x) if x is not None else None,
                          ctx.input_keys.get(p.name, "-"), x) for p, x in zip(self.inputs, inputs)}
        # one storage object: Ray Tune's searcher opens the same study on it
        storage = (optuna.storages.RDBStorage(f"sqlite:///{c.study_file}") if c.study_file
                   else optuna.storages.InMemoryStorage())
        pruner = (optuna.pruners.MedianPruner(n_startup_trials=c.prune_startup_trials,
                                              n_warmup_steps=c.prune_warmup_epochs)
                  if c.pruning else optuna.pruners.NopPruner())
        study = optuna.create_study(study_name=self.label, storage=storage, load_if_exists=True, pruner=pruner,
                                    direction=c.direction, sampler=self._sampler(optuna, 0))
        if study.trials:
            study.sampler = self._sampler(optuna, len(study.trials))
        done = len([t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                            optuna.trial.TrialState.PRUNED)])

        def objective(trial):
            ctx.progress(trial.number / c.trials, f"trial {trial.number + 1} of {c.trials}")
            values = suggest(trial)
            t0 = time.perf_counter()
            pruned = threading.Event()
            prune_node, _, metric = c.prune_on.partition(".")

            def watch(ev, eng):  # the learner's epochs -> the pruner; a trial it prunes is cancelled inside
                if (c.pruning and ev.get("type") == "metrics" and ev.get("kind") == "epoch"
                        and ev.get("node") == prune_node and metric in ev.get("values", {})):
                    trial.report(float(ev["values"][metric]), int(ev.get("epoch") or 0))
                    if trial.should_prune():
                        pruned.set()
                        eng.cancel()
            try:
                _, scalars, _ = run_body(self._trial_body(values), feeds, ctx, self.label, cancel_inside=False,
                                         watch=watch)
            except Cancelled:
                if pruned.is_set():
                    ctx.log(f"trial {trial.number + 1}: {values} pruned")
                    raise optuna.TrialPruned() from None
                raise
            except NodeError as e:  # both backends name the trial
                raise NodeError(f"trial {trial.number + 1} ({shown_values(values)}): {e}") from None
            if c.objective not in scalars:
                raise NodeError(f"option 'objective' names no scalar: '{c.objective}' is "
                                f"not among the body's results ({', '.join(scalars) or 'none'})")
            ctx.log(f"trial {trial.number + 1}: {values} -> {scalars[c.objective]:.4g} "
                    f"({time.perf_counter() - t0:.1f} s)")
            return float(scalars[c.objective])

        def stop_on_cancel(study, _trial):  # a cancel ends the search after the current trial
            if ctx.cancelled:
                study.stop()
        suggest = trial_suggester(c.space)
        if done < c.trials and c.backend == "ray":
            from deepnodes.flow.ray_tune import optimize_on_ray

            optimize_on_ray(self, study, storage, study.sampler, suggest, inputs, ctx,
                            min(c.trials, self._grid_size()) - done, done)
        elif done < c.trials:
            study.optimize(objective, n_trials=c.trials - done, callbacks=[stop_on_cancel])
        finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not finished:
            raise NodeError(f"no trial finished")
        names = list(c.space)
        trials = pa.table({"trial": [t.number for t in study.trials],
                           **{n: [str(t.params.get(n, "")) for t in study.trials] for n in names},
                           "objective": pa.array([t.value for t in study.trials], pa.float64()),
                           "state": [t.state.name.lower() for t in study.trials],
                           "seconds": pa.array([(t.duration.total_seconds() if t.duration else None)
                                                for t in study.trials], pa.float64())})
        best = study.best_trial
        best_table = pa.table({"parameter": [*names, "objective"],
                               "value": [*(str(best.params[n]) for n in names), str(best.value)]})
        ctx.result("best objective", best.value)
        for n in names:
            ctx.result(f"best {n}", best.params[n])
        ended = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                          optuna.trial.TrialState.PRUNED)]
        if ctx.cancelled and len(ended) < min(c.trials, self._grid_size()):  # finished trials kept, as partial
            stopped = Cancelled()
            stopped.outputs = [trials, best_table]
            raise stopped
        return [trials, best_table]


def trial_suggester(space: dict):
    """The define-by-run space both backends draw from: one Optuna suggest call per parameter, in order."""

    def suggest(trial) -> dict[str, Any]:
        values = {}
        for n, p in space.items():
            if p.kind == "choice":
                values[n] = trial.suggest_categorical(n, p.choices)
            elif p.kind == "int":
                values[n] = trial.suggest_int(n, int(p.low), int(p.high), log=p.log)
            else:
                values[n] = trial.suggest_float(n, p.low, p.high, log=p.log)
        return values

    return suggest


def shown_values(values: dict | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (values or {}).items())
