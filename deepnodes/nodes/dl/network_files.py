"""Network Reader, Network Writer and Network View nodes."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, node
from deepnodes.dl.convert import OUTPUT_ACTIVATION_HELP, OutputActivation, record_output_activation

READ_FORMATS = ("auto", "native", "onnx", "torchscript", "keras", "savedmodel")


def _detect(path: Path) -> str:
    if path.is_dir() and (path / "saved_model.pb").exists():
        return "savedmodel"
    if path.is_dir() or path.suffix in (".dnn", ".zip"):
        return "native"
    if path.suffix in (".keras", ".h5", ".hdf5"):
        return "keras"
    if path.suffix in (".pt", ".pth", ".ts", ".torchscript"):
        return "torchscript"
    if path.suffix == ".onnx":
        return "onnx"
    raise NodeError(f"option 'path': cannot tell the format of {path.name}; set option 'format'")


@node("deepnodes.dl.NetworkReader", name="Network Reader", category="Deep Learning/IO")
class NetworkReader(Node):
    """Reads a network: the native format (a folder or a .dnn file: spec JSON + safetensors weights + metadata),
    an ONNX model (run by ONNX Runtime; for inference and feature extraction, not training), a TorchScript archive
    written by the Network Writer, a Keras 3 `.keras` / `.h5` model (imported on Keras' torch backend; it keeps
    Keras' channels-last layout and trains and executes like any network), or a TensorFlow SavedModel folder
    (option `signature`: its inputs and outputs become the network's; run by ONNX Runtime after conversion with
    tf2onnx when that matches TensorFlow's outputs within 1e-5, else by TensorFlow in a child process, with a
    warning; needs the extra `deepnodes[tensorflow]`). A SavedModel is for inference and feature extraction:
    fine-tuning one is not supported (a Keras model saved as `.keras` trains like any network).

    Nothing is unpickled unless `trust` is on."""

    inputs = []
    outputs = [Out("network", "network", "the network read")]

    class Config(NodeConfig):
        path: str = Field("", description="the network file or folder")
        format: Literal["auto", "native", "onnx", "torchscript", "keras", "savedmodel"] = Field(
            "auto", description="file format; auto = from the file name (.dnn or folder, .onnx, .pt, .keras/.h5, "
            "a folder with saved_model.pb)")
        signature: str = Field("serving_default", max_length=200,
                               description="savedmodel: the signature to read (its inputs and outputs)")
        trust: bool = Field(False, description="allow code inside the file to run: pickled torch modules (native), "
                            "Keras Lambda layers, or SavedModel ops that reach files, Python or the network; only "
                            "for files from a source you trust")
        output_activation: OutputActivation = Field("recorded", description=OUTPUT_ACTIVATION_HELP)

    def _path(self) -> Path:
        if not self.config.path:
            raise NodeError("option 'path' is empty; set the network file to read")
        p = Path(self.config.path).expanduser()
        if not p.exists():
            raise NodeError(f"option 'path': there is no file or folder {p}")
        return p

    def _format(self, p: Path) -> str:
        return self.config.format if self.config.format != "auto" else _detect(p)

    def signature_extra(self) -> str:
        try:
            p = Path(self.config.path).expanduser()
            if p.is_dir():
                return ";".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in sorted(p.iterdir()))
            st = p.stat()
            return f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            return ""

    def configure(self, specs):
        p = self._path()
        if self._format(p) == "native":
            from deepnodes.dl.formats.native import read_header
            from deepnodes.dl.spec import NetworkSpec

            try:
                return [NetworkSpec.from_json(read_header(p)["spec"])]
            except ValueError as e:
                raise NodeError(str(e)) from None
        return [None]  # known once read

    def execute(self, inputs, ctx):
        p = self._path()
        fmt = self._format(p)
        try:
            if fmt == "native":
                from deepnodes.dl.formats.native import load_network

                net = load_network(p, trust=self.config.trust)
            elif fmt == "onnx":
                from deepnodes.dl.formats.onnx import import_onnx

                net = import_onnx(p)
            elif fmt == "torchscript":
                from deepnodes.dl.formats.torchscript import import_torchscript

                net = import_torchscript(p)
            elif fmt == "savedmodel":
                from deepnodes.dl.formats.savedmodel_read import import_savedmodel

                net = import_savedmodel(p, signature=self.config.signature, trust=self.config.trust, warn=ctx.warn)
            else:
                from deepnodes.dl.formats.keras import import_keras

                net = import_keras(p, trust=self.config.trust)
        except ValueError as e:
            raise NodeError(str(e)) from None
        except OSError as e:
            raise NodeError(f"option 'path': {p} cannot be read ({e.strerror or e})") from None
        record_output_activation(net, self.config.output_activation)
        ctx.log(f"read {net.spec.describe()}")
        return [net]


@node("deepnodes.dl.NetworkWriter", name="Network Writer", category="Deep Learning/IO")
class NetworkWriter(Node):
    """Writes a network: native (a folder, or one .dnn file: spec JSON + safetensors + metadata, versioned, no
    pickle), ONNX (dynamic batch axis; checked with the ONNX checker and against torch with ONNX Runtime),
    TorchScript (traced; checked against the network), Keras 3 `.keras` (networks built from layer nodes; images
    channels last; loaded back in Keras and checked against the network), a TensorFlow SavedModel folder (for TF
    Serving: through the Keras export, written by Keras on TensorFlow in a child process, a `serving_default`
    signature named after the network's inputs and outputs; loaded back with `tf.saved_model.load` and checked
    against the network within 1e-5) or a TFLite `.tflite` file (converted from that SavedModel; checked in the
    TFLite interpreter within 1e-5). SavedModel and TFLite need the `tensorflow` extra and a network built from
    layer nodes or imported from Keras; a layer without a Keras counterpart is named before anything is written.

    It never deletes or replaces what it did not write: the new file or folder is written beside the old one,
    verified, then switched into place; a non-empty folder that is not a DeepNodes network, or a file of another
    kind, is refused."""

    inputs = [In("network", "network", "the network to write")]
    outputs = []
    cacheable = False

    class Config(NodeConfig):
        path: str = Field("", description="file or folder to write (native: a folder, or a file ending in .dnn)")
        format: Literal["native", "onnx", "torchscript", "keras", "savedmodel", "tflite"] = Field(
            "native", description="file format (keras: a .keras file, Keras 3, for networks built from layer nodes; "
            "savedmodel: a TensorFlow SavedModel folder; tflite: a .tflite file)")
        layout: Literal["network", "channels_last"] = Field(
            "network", description="savedmodel / tflite: image tensors in the signature as the network has them "
            "(channels first, as ONNX and the Network Executor) or channels last (TensorFlow's own layout)")
        opset: int = Field(17, ge=9, le=21, description="ONNX opset version")
        allow_pickle: bool = Field(False, description="native: pickle torch modules that cannot be rebuilt from a "
                                   "description (a module from a Python script); reading them needs trust")

    def configure(self, specs):
        if not self.config.path:
            raise NodeError("option 'path' is empty; set where to write the network")
        return []

    def execute(self, inputs, ctx):
        net = inputs[0]
        p = Path(self.config.path).expanduser()
        try:
            if self.config.format == "native":
                from deepnodes.dl.formats.native import save_network

                save_network(net, p, allow_pickle=self.config.allow_pickle)
            elif self.config.format == "onnx":
                from deepnodes.dl.formats.onnx import export_onnx

                export_onnx(net, p, opset=self.config.opset)
            elif self.config.format == "keras":
                from deepnodes.dl.formats.keras_export import export_keras

                export_keras(net, p)
            elif self.config.format in ("savedmodel", "tflite"):
                from deepnodes.dl.formats import savedmodel_write

                write = savedmodel_write.export_savedmodel if self.config.format == "savedmodel" else \
                    savedmodel_write.export_tflite
                write(net, p, layout=self.config.layout, check=getattr(ctx, "check_cancelled", None))
            else:
                from deepnodes.dl.formats.torchscript import export_torchscript

                export_torchscript(net, p)
        except ValueError as e:
            raise NodeError(str(e)) from None
        except OSError as e:
            raise NodeError(f"option 'path': {p} cannot be written ({e.strerror or e})") from None
        ctx.log(f"wrote {p}")
        return []


@node("deepnodes.dl.NetworkView", name="Network View", category="Deep Learning/IO")
class NetworkView(Node):
    """A table of the network's layers: name, kind, output shape, trainable and frozen parameter counts (the same
    table `deepnodes run --report` shows for a network output)."""

    inputs = [In("network", "network", "the network to describe")]
    outputs = [Out("layers", "table", "one row per layer")]

    class Config(NodeConfig):
        pass

    def configure(self, specs):
        from deepnodes.table.spec import ColumnSpec, TableSpec

        return [TableSpec((ColumnSpec("layer", "string", "string"), ColumnSpec("kind", "string", "string"),
                           ColumnSpec("output_shape", "string", "string"),
                           ColumnSpec("trainable_params", "integer", "int64"),
                           ColumnSpec("frozen_params", "integer", "int64")))]

    def execute(self, inputs, ctx):
        import pyarrow as pa

        from deepnodes.dl.io import layer_table

        rows = layer_table(inputs[0])
        ctx.result("trainable_params", sum(r["trainable_params"] for r in rows))
        ctx.result("frozen_params", sum(r["frozen_params"] for r in rows))
        return [pa.table({
            "layer": pa.array([r["layer"] for r in rows], pa.string()),
            "kind": pa.array([r["kind"] for r in rows], pa.string()),
            "output_shape": pa.array([r["output_shape"] for r in rows], pa.string()),
            "trainable_params": pa.array([r["trainable_params"] for r in rows], pa.int64()),
            "frozen_params": pa.array([r["frozen_params"] for r in rows], pa.int64()),
        })]
