"""Parameter Search on Ray Tune (`backend: ray`): the trials of one search run in parallel as Ray Tune trials.

- The study is the local backend's: the same Optuna storage, study name and seeded sampler, wrapped in Ray
  Tune's `OptunaSearch` (ask/tell), so a seed proposes the same points as locally, a stored study resumes, and
  the trials table is built from the study by the same code.
- Each trial runs the body through the same engine in a Ray worker: the worker gets the search node's
  configuration (JSON, the body document inline; never pickled nodes) and the node's inputs as the files their
  port type saves (Arrow IPC for tables), and rebuilds the trial's body from them.
- The worker reports the `prune_on` learner's epochs to Tune; Tune's ASHA scheduler stops clearly worse trials
  (grace period: `prune_warmup_epochs`, at least 1), and those epochs come back to the node's event stream as
  `search/learner` metrics, with a log line per trial as locally.
- A cancel stops the Tune run (running trials are marked failed; finished ones are kept); a body error stops it
  and is one sentence naming the trial and the inner node.
"""
from __future__ import annotations

import logging
import os
import queue
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

from ray import tune
from ray.tune import Callback
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search.optuna import OptunaSearch
from ray.tune.stopper import Stopper

from deepnodes.core import Cancelled, ExecutionContext, NodeError, limits
from deepnodes.core.component import run_body
from deepnodes.core.ray_runtime import ray_session, storage_folder
from deepnodes.nodes.flow.parameter_search import ParameterSearch
from deepnodes.nodes.flow.parameter_search import shown_values as _shown

# what a trial reports to Tune; every report carries each key (Tune checks that its metrics are there)
EPOCH, METRIC, OBJECTIVE, ERROR = "dn_epoch", "dn_metric", "dn_objective", "dn_error"
_RUNS: dict[str, "_Run"] = {}  # the driver's state of a running search, by token (Tune pickles what it is given)


# ------------------------------------------------------------------------------------------- shipping
def pack_inputs(ports, inputs, keys: dict) -> dict:
    """The node's inputs as the files their port type saves (a table: one Arrow IPC file), with their keys."""
    from deepnodes.core.ports import PORT_TYPES

    out = {}
    with tempfile.TemporaryDirectory(prefix="deepnodes-ship-") as d:
        for i, (p, x) in enumerate(zip(ports, inputs)):
            if x is None:
                out[p.name] = (p.type, keys.get(p.name, "-"), None, {})
                continue
            folder = Path(d) / str(i)
            folder.mkdir()
            name = PORT_TYPES[p.type].io.save(x, str(folder / "value"))
            files = {str(f.relative_to(folder)): f.read_bytes() for f in folder.rglob("*") if f.is_file()}
            out[p.name] = (p.type, keys.get(p.name, "-"), name, files)
    return out


def unpack_inputs(packed: dict, folder: str) -> dict:
    """feeds[port] = (spec, key, object) for a body engine, loaded from the shipped files."""
    from deepnodes.core.ports import PORT_TYPES

    feeds = {}
    for i, (port, (ptype, key, name, files)) in enumerate(packed.items()):
        if name is None:
            feeds[port] = (None, key, None)
            continue
        base = Path(folder) / str(i)
        for rel, data in files.items():
            (base / rel).parent.mkdir(parents=True, exist_ok=True)
            (base / rel).write_bytes(data)
        io = PORT_TYPES[ptype].io
        obj = io.load(str(base / name))
        feeds[port] = (io.spec_of(obj), key, obj)
    return feeds


# ------------------------------------------------------------------------------------------- in a worker
def run_trial(config: dict, job: dict) -> None:
    """One Ray Tune trial: the body with this trial's options, through the same engine as a local trial.

    The body runs in a thread of its own and hands its epochs to this one, the trial's thread, which alone talks
    to Tune: a trial Tune stops (ASHA) ends inside `tune.report` with SystemExit, which must not land in the
    learner's thread; here it cancels the body, waits for it and ends the trial."""
    values = {n: config[n] for n in job["names"]}
    node = ParameterSearch(job["config"], job["label"])
    prune_node, _, metric = job["prune_on"].partition(".")
    said: queue.Queue = queue.Queue()
    cancel = threading.Event()
    ctx = ExecutionContext(job["label"], lambda ev: None, cancel, device=job["device"])

    def watch(ev, _eng):
        if ev.get("type") == "metrics" and ev.get("kind") == "epoch":
            said.put(("epoch", ev))

    def body() -> None:
        try:
            with tempfile.TemporaryDirectory(prefix="deepnodes-trial-") as d:
                feeds = unpack_inputs(job["feeds"], d)
                _, scalars, _ = run_body(node._trial_body(values), feeds, ctx, job["label"], watch=watch)
            if job["objective"] not in scalars:
                raise NodeError(f"option 'objective' names no scalar: '{job['objective']}' is "
                                f"not among the body's results ({', '.join(scalars) or 'none'})")
            said.put(("objective", float(scalars[job["objective"]])))
        except Cancelled:
            said.put(("cancelled", None))
        except NodeError as e:
            said.put(("error", str(e)))
        except Exception as e:  # noqa: BLE001 - any failure is the trial's sentence
            said.put(("error", f"{type(e).__name__}: {e}"))
        finally:  # read only if nothing above was: the trial never waits for a body that is gone
            said.put(("end", None))

    def report(**kw):
        tune.report({METRIC: None, OBJECTIVE: None, **kw})

    runner = threading.Thread(target=body, daemon=True, name="deepnodes-trial-body")
    runner.start()
    try:
        while True:
            what, item = said.get()
            if what == "epoch":  # the learners' epochs -> Tune (ASHA) and back to the node's event stream
                vals = {k: float(v) for k, v in (item.get("values") or {}).items() if isinstance(v, (int, float))}
                if item.get("node") == prune_node and metric in vals:
                    report(**{EPOCH: int(item.get("epoch") or 0), METRIC: vals[metric]}, dn_node=item["node"],
                           dn_values=vals)
                else:
                    report(dn_node=item.get("node"), dn_epoch_of=item.get("epoch"), dn_values=vals)
            elif what == "objective":
                report(**{OBJECTIVE: item})
                return
            elif what == "error" or what == "end":
                item = item or "the body stopped without a result"
                report(**{ERROR: item})
                raise NodeError(item)
            else:  # cancelled: Tune is stopping this trial
                return
    finally:  # a stop from Tune (SystemExit in report) or an error: the body ends before the trial does
        cancel.set()
        runner.join()


# ------------------------------------------------------------------------------------------- the driver
class _Run:
    """What the driver's Tune callbacks need: the node's context and what the trials said."""

    def __init__(self, ctx, total: int, done: int):
        self.ctx, self.total, self.finished = ctx, total, done
        self.errors: list[str] = []  # one sentence per failed trial; the first one stops the run
        self.said: dict[str, str] = {}  # Tune trial id -> the body's error sentence, reported before it raised
        self.numbers: dict[str, int] = {}  # Tune trial id -> Optuna trial number
        self.values: dict[str, dict] = {}
        self.started: dict[str, float] = {}
        self.objectives: dict[str, float] = {}

    def name(self, trial_id: str) -> str:
        return f"trial {self.numbers.get(trial_id, 0) + 1} ({_shown(self.values.get(trial_id))})"


class _Tokened:
    """Tune pickles what it is given (its tuner state, for a Tune-level restore a search does not use: the Optuna
    study is the search's state); these objects pickle as their token, the live state stays in `_RUNS`."""

    def __init__(self, token: str, *args, **kw):
        self._token = token
        super().__init__(*args, **kw)

    def __getstate__(self):
        return {"_token": self._token}

    @property
    def _live(self) -> "_Run | None":
        return _RUNS.get(self._token)


class StudySearch(_Tokened, OptunaSearch):
    """Ray Tune's OptunaSearch on the node's own study. The learner's epochs become the trial's intermediate
    values; a trial ASHA stopped ends without an objective and is told PRUNED (OptunaSearch's rule)."""

    def suggest(self, trial_id):
        params = super().suggest(trial_id)
        if self._live is not None and params is not None:
            self._live.numbers[trial_id] = self._ot_trials[trial_id].number
            self._live.values[trial_id] = dict(params)
            self._live.started[trial_id] = time.perf_counter()
        return params

    def on_trial_result(self, trial_id, result):
        if result.get(EPOCH) is not None and result.get(METRIC) is not None:
            self._ot_trials[trial_id].report(float(result[METRIC]), int(result[EPOCH]))

    def settle(self, run: "_Run") -> None:
        """Tell the study how the trials Tune never completed ended: a stop of the whole run (a cancel, a body
        error) ends its trials without a word to the searcher. One that had reported its objective is COMPLETE,
        the others FAIL; none stays RUNNING in a stored study."""
        for trial_id in list(self._ot_trials):
            if trial_id not in self._completed_trials:
                value = run.objectives.get(trial_id)
                self.on_trial_complete(trial_id, result=None if value is None else {OBJECTIVE: value},
                                       error=value is None)

    def save_to_dir(self, *args, **kwargs):
        pass


class Relay(_Tokened, Callback):
    """Trial reports -> the node's event stream: epochs as `search/learner` metrics, a log line per trial."""

    def on_trial_result(self, iteration, trials, trial, result, **info):
        run = self._live
        if run is None:
            return
        if result.get(ERROR):
            run.said[trial.trial_id] = str(result[ERROR])
        elif result.get("dn_node") and result.get("dn_values"):
            epoch = result.get(EPOCH) if result.get(EPOCH) is not None else result.get("dn_epoch_of")
            run.ctx._emit({"type": "metrics", "node": f"{run.ctx.node_id}/{result['dn_node']}", "kind": "epoch",
                           "step": None, "epoch": epoch, "values": result["dn_values"],
                           "trial": run.numbers.get(trial.trial_id)})
        elif result.get(OBJECTIVE) is not None:
            run.objectives[trial.trial_id] = float(result[OBJECTIVE])
            self._line(run, trial, f"-> {result[OBJECTIVE]:.4g}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        run = self._live
        if run is not None and (trial.last_result or {}).get(OBJECTIVE) is None and not run.ctx.cancelled:
            self._line(run, trial, "pruned")

    def on_trial_error(self, iteration, trials, trial, **info):
        run = self._live
        if run is not None:
            said = run.said.get(trial.trial_id)
            run.errors.append(f"{run.name(trial.trial_id)}: {said}" if said else
                              f"{run.name(trial.trial_id)} failed in its Ray worker: {_last_line(trial)}")

    @staticmethod
    def _line(run: _Run, trial, what: str) -> None:
        run.finished += 1
        secs = time.perf_counter() - run.started.get(trial.trial_id, time.perf_counter())
        run.ctx.log(f"trial {run.numbers.get(trial.trial_id, 0) + 1}: {run.values.get(trial.trial_id)} {what} "
                    f"({secs:.1f} s)")
        run.ctx.progress(run.finished / run.total, f"trial {run.finished} of {run.total} finished")


class CancelOrError(_Tokened, Stopper):
    """Stops the whole Tune run on a cancel of the node or on a body error."""

    def __call__(self, trial_id, result):
        return False

    def stop_all(self):
        return self._live is None or self._live.ctx.cancelled or bool(self._live.errors)


def _last_line(trial) -> str:
    try:
        text = Path(trial.error_file).read_text() if getattr(trial, "error_file", None) else ""
    except OSError:
        text = ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else "the worker stopped")[:300]


def optimize_on_ray(node, study, storage, sampler, suggest, inputs, ctx, n_trials: int, done: int) -> None:
    """Run `n_trials` more trials of `study` on Ray Tune (see the module docstring); the trials end up in the
    study exactly as the local backend's do."""
    c = node.config
    session = ray_session(ctx, c.address)
    if session.ray.util.client.ray.is_connected():
        raise NodeError("option 'address' is a Ray Client address (ray://); a Ray Tune search runs its driver "
                        "here and needs a direct connection: run the workflow on a cluster node with address "
                        "'auto'")
    # Tune's console output off (the node's events say it), and no result files beside the study
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    token = secrets.token_hex(8)
    run = _Run(ctx, done + n_trials, done)
    cfg = c.model_dump(mode="json")
    cfg.update(body=node.checked_body().workflow.to_json(), body_file="", study_file="", backend="local")
    job = {"config": cfg, "label": node.label, "names": list(c.space), "objective": c.objective,
           "prune_on": c.prune_on, "device": "cuda" if c.gpus_per_trial > 0 else "cpu",
           "feeds": pack_inputs(node.inputs, inputs, ctx.input_keys)}
    mode = "max" if c.direction == "maximize" else "min"
    searcher = StudySearch(token, space=suggest, metric=OBJECTIVE, mode=mode, sampler=sampler,
                           study_name=study.study_name, storage=storage)
    scheduler = (ASHAScheduler(time_attr=EPOCH, metric=METRIC, mode=mode, max_t=limits.EPOCHS,
                               grace_period=max(1, c.prune_warmup_epochs), reduction_factor=c.prune_reduction_factor)
                 if c.pruning else FIFOScheduler())
    trainable = tune.with_resources(tune.with_parameters(run_trial, job=job),
                                    {"cpu": c.cpus_per_trial, "gpu": c.gpus_per_trial})
    ctx.progress(done / run.total, f"{n_trials} trials on Ray ({session.cpus} CPUs)")
    tune_log = logging.getLogger("ray.tune")  # a failed trial is the node's sentence, not Tune's traceback
    level, tune_log.level = tune_log.level, logging.CRITICAL
    _RUNS[token], folder = run, storage_folder(f"search-{token}")
    try:
        tune.Tuner(trainable, tune_config=tune.TuneConfig(
            search_alg=searcher, scheduler=scheduler, num_samples=n_trials,
            max_concurrent_trials=c.max_concurrent or None, reuse_actors=True),  # a worker serves on
            run_config=tune.RunConfig(name="search", storage_path=folder, verbose=0, stop=CancelOrError(token),
                                      callbacks=[Relay(token)], log_to_file=False,
                                      failure_config=tune.FailureConfig(max_failures=0))).fit()
    finally:
        tune_log.setLevel(level)
        searcher.settle(run)
        _RUNS.pop(token, None)
        shutil.rmtree(folder, ignore_errors=True)
    if run.errors and not ctx.cancelled:
        raise NodeError(run.errors[0])
