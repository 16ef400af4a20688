"""Logging a training run where people look: MLflow and TensorBoard, as callbacks (optional extras, off by default).

    TrainingOptions(log_mlflow=True)            # ./mlruns (a local SQLite store + artifacts), or mlflow_uri
    TrainingOptions(log_tensorboard=True)       # event files under ./runs/<time>, or tensorboard_dir
    opts = beside(opts, folder)                 # the Learner: those defaults under the workflow's folder instead

`mlflow_uri` is a tracking URI (`sqlite:///...`, `http://...`) or a local folder, which gets a store of its own.

MLflow gets the Learner's whole config and the network's layer table as parameters (and the table as a JSON
artifact), one metric row per epoch, and the trained network as artifacts: `network.onnx` (where it exports) and
the native DeepNodes file. TensorBoard gets scalars per epoch (`epoch/<metric>`) and at the display rate per
batch (`batch/<metric>`, read where the loop reads them anyway: no extra device syncs).
An MlflowClient is used, not mlflow's process-global active run, so learners side by side log to their own runs.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from .callbacks import Callback
from .losses import TrainingError


def _need(module: str, extra: str, option: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise TrainingError(f"option '{option}' needs {extra} (pip install 'deepnodes[{extra}]')") from None


def _numbers(row: dict) -> dict[str, float]:
    return {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in ("epoch", "partial")}


class MLflowLogger(Callback):
    def __init__(self, opts, network, uri: str = "", experiment: str = "deepnodes"):
        _need("mlflow", "mlflow", "log_mlflow")
        from mlflow.tracking import MlflowClient

        local = not _is_uri(uri)
        folder = Path(uri or "mlruns").expanduser().resolve()
        if local:  # mlflow's file store is deprecated: a local SQLite store with the artifacts beside it
            folder.mkdir(parents=True, exist_ok=True)
        self.uri = f"sqlite:///{folder / 'mlflow.db'}" if local else uri
        self.client = MlflowClient(tracking_uri=self.uri)
        exp = self.client.get_experiment_by_name(experiment)
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(
            experiment, artifact_location=(folder / "artifacts").as_uri() if local else None)
        self.run_id = self.client.create_run(exp_id, tags={"mlflow.source.name": "deepnodes"}).info.run_id
        self.opts, self.network = opts, network

    def on_train_begin(self, loop):
        from mlflow.entities import Param

        from .io import layer_table

        params = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in self.opts.model_dump().items()}
        table = layer_table(self.network)
        for row in table:
            params[f"layer.{row.get('name')}"] = json.dumps({k: v for k, v in row.items() if k != "name"})[:6000]
        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])
        self.client.log_dict(self.run_id, table, "layers.json")

    def on_epoch_end(self, loop, epoch, row):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, epoch) for k, v in _numbers(row).items()])

    def on_result(self, result):
        from .formats.native import save_network

        from .io import export_onnx

        with tempfile.TemporaryDirectory() as d:
            for kind, save in (("native", lambda: save_network(result.network, Path(d) / "network.dnn")),
                               ("onnx", lambda: export_onnx(result.network, Path(d) / "network.onnx"))):
                try:
                    self.client.log_artifact(self.run_id, str(save()), "network")
                except Exception as e:  # noqa: BLE001 - e.g. a module that needs pickling, an op ONNX lacks
                    self.client.set_tag(self.run_id, kind, f"not saved: {str(e)[:200]}")
        self.client.set_terminated(self.run_id, "FINISHED" if result.stopped != "the loss became NaN" else "FAILED")


class TensorBoardLogger(Callback):
    def __init__(self, folder: str = ""):
        _need("tensorboard", "tensorboard", "log_tensorboard")
        from deepnodes.dl.formats.tf_env import keep_tensorflow_out

        keep_tensorflow_out()  # TensorBoard would import TensorFlow, when installed, into the training process
        from torch.utils.tensorboard import SummaryWriter

        self.folder = Path(folder or Path("runs") / time.strftime("%Y%m%d-%H%M%S"))
        self.writer = SummaryWriter(str(self.folder))

    def on_batch_end(self, loop, step, values):
        for k, v in _numbers(values).items():
            self.writer.add_scalar(f"batch/{k}", v, step)

    def on_epoch_end(self, loop, epoch, row):
        for k, v in _numbers(row).items():
            self.writer.add_scalar(f"epoch/{k}", v, epoch)
        self.writer.flush()

    def on_train_end(self, loop):
        self.writer.close()


def _is_uri(uri: str) -> bool:
    """A tracking URI (`scheme:...`, `databricks`), not a local folder ('' is the default folder)."""
    import re

    return bool(uri) and (uri == "databricks" or re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", uri) is not None)


def beside(opts, folder: Path | None):
    """`opts` with the default MLflow store and TensorBoard folder under `folder` (the workflow's folder) instead of
    the current directory; relative folders given in the options are taken relative to it too."""
    if folder is None:
        return opts
    update = {}
    if opts.log_mlflow and not _is_uri(opts.mlflow_uri):
        update["mlflow_uri"] = str(folder / (opts.mlflow_uri or "mlruns"))
    if opts.log_tensorboard:
        update["tensorboard_dir"] = str(folder / (opts.tensorboard_dir or Path("runs") / time.strftime("%Y%m%d-%H%M%S")))
    return opts.model_copy(update=update) if update else opts


def tracking_callbacks(opts, network) -> list[Callback]:
    cbs: list[Callback] = []
    if getattr(opts, "log_mlflow", False):
        cbs.append(MLflowLogger(opts, network, opts.mlflow_uri, opts.mlflow_experiment))
    if getattr(opts, "log_tensorboard", False):
        cbs.append(TensorBoardLogger(opts.tensorboard_dir))
    return cbs
