"""Training options (pydantic, torch-free): shared by `deepnodes.dl.train.train` and the Network Learner node,
whose config inherits them, so an option means the same thing in Python and in a workflow file.
Names follow Keras where Keras has the option (epochs, batch_size, learning_rate, beta_1, clipnorm, ...)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from deepnodes.core import limits

LOSSES = ("mse", "mae", "huber", "categorical_crossentropy", "sparse_categorical_crossentropy",
          "binary_crossentropy", "kl_divergence", "poisson", "cosine_similarity")
Loss = Literal["auto", "mse", "mae", "huber", "categorical_crossentropy", "sparse_categorical_crossentropy",
               "binary_crossentropy", "kl_divergence", "poisson", "cosine_similarity"]
Optimizer = Literal["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam"]
Converter = Literal["auto", "tensor", "numbers", "one_hot", "tokens", "class_index"]


class InputColumns(BaseModel):
    """The column(s) feeding one network input."""

    columns: list[str] = Field(default_factory=list, description="column(s) of the training table for this input")
    converter: Converter = Field("auto", description="how the columns become a tensor: tensor column, number "
                                 "columns, one-hot from an integer or category column, token sequences (padded), "
                                 "class index; auto picks from the column kind")
    pad_value: int = Field(0, le=limits.VOCAB, description="token sequences: the id used to pad shorter sequences")
    network_input: str = Field("", description="the network input this feeds (empty: the inputs in order)")


class TargetColumns(InputColumns):
    """The target column(s) and loss of one network output."""

    network_input: str = Field("", description="unused for targets", exclude=True)
    network_output: str = Field("", description="the network output this is the target of (empty: in order)")
    loss: Loss = Field("auto", description="loss function; auto: sparse categorical cross-entropy for class "
                       "targets, categorical for one-hot, binary for one sigmoid unit, MSE otherwise")
    loss_weight: float = Field(1.0, ge=0, description="weight of this output's loss in the total loss")
    class_weights: dict[str, float] = Field(default_factory=dict, description="class (index or name) -> weight "
                                            "of its samples in the loss; missing classes weigh 1")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="cross-entropy label smoothing")
    mask_padding: bool = Field(True, description="token-sequence targets: steps equal to pad_value are left "
                               "out of the loss and the accuracy")
    from_logits: bool | None = Field(None, description="whether the output holds logits; empty: decided from "
                                     "the output layer's activation (softmax/sigmoid = probabilities)")
    huber_delta: float = Field(1.0, gt=0, description="Huber loss: where it turns from quadratic to linear")


class TrainingOptions(BaseModel):
    """Everything about how a network is trained, independent of which columns feed it."""

    epochs: int = Field(10, ge=1, le=limits.EPOCHS, description="passes over the training table")
    batch_size: int = Field(128, ge=1, le=limits.BATCH,
        description="rows per training step; the last partial batch is used as it is")
    validation_batch_size: int = Field(256, ge=1, le=limits.BATCH,
        description="rows per step when computing the validation metrics (memory grows with it; larger is hardly "
                    "faster on the CPU)")
    shuffle: bool = Field(True, description="shuffle the rows before each epoch")
    seed: int = Field(42, le=limits.SEED, description="one seed for weight initialisation, shuffling and dropout")

    optimizer: Optimizer = Field("adam", description="optimizer")
    learning_rate: float = Field(0.001, gt=0, description="learning rate")
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD / RMSprop momentum")
    nesterov: bool = Field(False, description="SGD: Nesterov momentum")
    beta_1: float = Field(0.9, ge=0, lt=1, description="Adam family: decay of the first moment")
    beta_2: float = Field(0.999, ge=0, lt=1, description="Adam family: decay of the second moment")
    rho: float = Field(0.9, ge=0, lt=1, description="RMSprop / Adadelta: decay of the squared-gradient average")
    epsilon: float = Field(1e-7, gt=0, description="small constant for numerical stability")
    weight_decay: float = Field(0.0, ge=0, description="weight decay (decoupled for AdamW)")
    amsgrad: bool = Field(False, description="Adam / AdamW: the AMSGrad variant")
    clipnorm: float | None = Field(None, gt=0, description="clip the global gradient norm to this value")
    clipvalue: float | None = Field(None, gt=0, description="clip every gradient element to [-value, value]")
    head_layers: list[str] = Field(default_factory=list, description="layers trained with head_learning_rate "
                                   "(fine-tuning: a new head learns faster than the pretrained body)")
    head_learning_rate: float | None = Field(None, gt=0, description="learning rate of head_layers")
    freeze_batchnorm: bool = Field(True, description="BatchNormalization layers whose weights are frozen also keep "
                                   "their running statistics")

    early_stopping: bool = Field(False, description="stop when the monitored metric stops improving")
    monitor: str = Field("val_loss", description="metric watched by early stopping, keep best and reduce LR "
                         "(val_loss, val_accuracy, loss, accuracy; val_* falls back to the training metric "
                         "without a validation table)")
    min_delta: float = Field(0.0, ge=0, description="smallest change that counts as an improvement")
    patience: int = Field(3, ge=0, le=limits.EPOCHS, description="epochs without improvement before stopping")
    restore_best_weights: bool = Field(True, description="early stopping: end with the best epoch's weights")
    keep_best: bool = Field(False, description="end with the weights of the best epoch by 'monitor'")
    reduce_lr_on_plateau: bool = Field(False, description="multiply the learning rate by lr_factor when the "
                                       "monitored metric stops improving")
    lr_factor: float = Field(0.1, gt=0, lt=1, description="reduce LR on plateau: factor")
    lr_patience: int = Field(2, ge=0, le=limits.EPOCHS, description="reduce LR on plateau: epochs without improvement")
    min_lr: float = Field(0.0, ge=0, description="reduce LR on plateau: lower bound")
    lr_schedule: Literal["none", "cosine", "one_cycle"] = Field("none", description="the learning rate over the "
        "run, set after every batch: none keeps learning_rate; cosine falls from it to 0 along a half cosine (after "
        "the warm-up); one_cycle rises from learning_rate/25 to learning_rate, then falls to learning_rate/25e4 "
        "(torch's OneCycleLR)")
    warmup: float | None = Field(None, ge=0, lt=1, description="lr_schedule: the fraction of the training steps "
                                 "in which the learning rate rises; empty: 0 for cosine, 0.3 for one_cycle")
    terminate_on_nan: bool = Field(True, description="stop with an error when the loss becomes NaN or infinite; "
                                   "the model after the last complete epoch is kept as the node's partial output")

    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where to train: auto uses CUDA when present")
    mixed_precision: bool = Field(False, description="CUDA only: compute in bfloat16/float16 with float32 weights")
    metrics_interval: float = Field(0.5, ge=0, le=limits.SECONDS, description="seconds between per-batch metric events")
    log_mlflow: bool = Field(False, description="log the run to MLflow: the config and layer table, metrics per "
                             "epoch, the trained network (ONNX and native); needs the mlflow extra")
    mlflow_uri: str = Field("", description="MLflow tracking URI, or a local folder for a store of its own "
                            "(SQLite, artifacts beside it); empty: the folder mlruns beside the workflow file",
                            json_schema_extra={"x-path": "uri"})  # its file part is confined like a path
    mlflow_experiment: str = Field("deepnodes", description="MLflow experiment name")
    log_tensorboard: bool = Field(False, description="write TensorBoard event files: scalars per epoch and batch; "
                                  "needs the tensorboard extra")
    tensorboard_dir: str = Field("", description="folder of the event files; empty: runs/<date-time> beside the "
                                 "workflow file")
    compile: bool = Field(False, description="compile the network with torch.compile before training (slower to "
                          "start; pays off only for long runs on some networks and devices)")


class DistributedOptions(BaseModel):
    """Where the Network Learner trains: in this process, or data-parallel on Ray Train (`dl/distributed/`)."""

    backend: Literal["none", "ray"] = Field("none", description="none: train here; ray: data-parallel training "
                                            "on Ray Train (torch DistributedDataParallel), one shard of the "
                                            "table per worker; needs the ray extra")
    workers: int = Field(2, ge=1, le=limits.THREADS, description="ray: worker processes (one CPU each, or one "
                         "GPU each with use_gpu); batch_size stays the global batch, split across the workers")
    use_gpu: bool = Field(False, description="ray: one GPU per worker (NCCL); off: CPU workers (gloo)")
    address: str = Field("", description="ray: empty = start a local Ray on this machine's cores; 'auto' or "
                         "'ray://host:port' = an existing cluster")
    max_failures: int = Field(1, ge=0, le=limits.EPOCHS, description="ray: times a failed worker group is "
                              "restarted; it resumes from the last epoch's checkpoint")
    checkpoint_folder: str = Field("", description="ray: where the per-epoch checkpoints go (a folder every "
                                   "worker can reach on a cluster); empty = a temporary folder, removed after "
                                   "a successful run")
