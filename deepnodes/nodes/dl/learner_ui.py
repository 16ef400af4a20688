"""How the Network Learner's dialog is laid out: tabs, optimizer-specific fields, pickers (see `core.ui`).
Only editor hints; the options themselves are `dl.options.TrainingOptions` and the Learner's Config."""
from __future__ import annotations

from deepnodes.core.ui import annotate, ui

GENERAL, OPTIMIZER, SCHEDULE, ADVANCED = "General", "Optimizer", "Early stopping and schedule", "Advanced"
DISTRIBUTED = "Distributed"

_ADAM = ["adam", "adamw", "adamax", "nadam"]
_EPS = ["adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam"]
_MONITOR = [{"early_stopping": [True]}, {"keep_best": [True]}, {"reduce_lr_on_plateau": [True]}]
_TOKENS = {"converter": ["tokens"]}
_RAY = {"backend": ["ray"]}


def _column_entry(key: str, source: str) -> dict:
    return {f"{key}.network_{source}": ui(enum_source=f"network_{source}s"),
            f"{key}.pad_value": ui(show_if=_TOKENS)}


LEARNER_UI = annotate({
    "inputs": ui(GENERAL), "targets": ui(GENERAL),
    **_column_entry("inputs", "input"), **_column_entry("targets", "output"),
    "targets.network_input": ui(hidden=True),  # inherited from the input entry; unused for targets
    "targets.mask_padding": ui(show_if=_TOKENS),
    "targets.huber_delta": ui(show_if={"loss": ["huber"]}),
    "targets.label_smoothing": ui(show_if={"loss": ["auto", "categorical_crossentropy",
                                                    "sparse_categorical_crossentropy", "binary_crossentropy"]}),
    "epochs": ui(GENERAL), "batch_size": ui(GENERAL), "validation_batch_size": ui(GENERAL),
    "shuffle": ui(GENERAL), "seed": ui(GENERAL),

    "optimizer": ui(OPTIMIZER), "learning_rate": ui(OPTIMIZER),
    "momentum": ui(OPTIMIZER, {"optimizer": ["sgd", "rmsprop"]}),
    "nesterov": ui(OPTIMIZER, {"optimizer": ["sgd"]}),
    "beta_1": ui(OPTIMIZER, {"optimizer": _ADAM}), "beta_2": ui(OPTIMIZER, {"optimizer": _ADAM}),
    "rho": ui(OPTIMIZER, {"optimizer": ["rmsprop", "adadelta"]}),
    "epsilon": ui(OPTIMIZER, {"optimizer": _EPS}),
    "amsgrad": ui(OPTIMIZER, {"optimizer": ["adam", "adamw"]}),
    "weight_decay": ui(OPTIMIZER), "clipnorm": ui(OPTIMIZER), "clipvalue": ui(OPTIMIZER),
    "head_layers": ui(OPTIMIZER), "head_learning_rate": ui(OPTIMIZER),

    "early_stopping": ui(SCHEDULE),
    "monitor": ui(SCHEDULE, _MONITOR, options=["val_loss", "val_accuracy", "loss", "accuracy"]),
    "min_delta": ui(SCHEDULE, _MONITOR),
    "patience": ui(SCHEDULE, {"early_stopping": [True]}),
    "restore_best_weights": ui(SCHEDULE, {"early_stopping": [True]}),
    "keep_best": ui(SCHEDULE), "reduce_lr_on_plateau": ui(SCHEDULE),
    "lr_factor": ui(SCHEDULE, {"reduce_lr_on_plateau": [True]}),
    "lr_patience": ui(SCHEDULE, {"reduce_lr_on_plateau": [True]}),
    "min_lr": ui(SCHEDULE, {"reduce_lr_on_plateau": [True]}),
    "lr_schedule": ui(SCHEDULE), "warmup": ui(SCHEDULE, {"lr_schedule": ["cosine", "one_cycle"]}),
    "terminate_on_nan": ui(SCHEDULE),

    "freeze_batchnorm": ui(ADVANCED), "device": ui(ADVANCED), "mixed_precision": ui(ADVANCED),
    "metrics_interval": ui(ADVANCED), "compile": ui(ADVANCED),
    "log_mlflow": ui(ADVANCED), "mlflow_uri": ui(ADVANCED, {"log_mlflow": [True]}),
    "mlflow_experiment": ui(ADVANCED, {"log_mlflow": [True]}), "log_tensorboard": ui(ADVANCED),
    "tensorboard_dir": ui(ADVANCED, {"log_tensorboard": [True]}),
    "distributed": ui(DISTRIBUTED),
    **{f"distributed.{k}": ui(show_if=_RAY) for k in ("workers", "use_gpu", "address", "max_failures",
                                                       "checkpoint_folder")},
})
