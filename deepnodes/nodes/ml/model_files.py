"""Model Writer and Model Reader: classic models as files (XGBoost JSON, skops, or trusted pickle) and H2O
models (MOJO, or H2O's binary model read only with trust)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, node


@node("deepnodes.ml.ModelWriter", name="Model Writer", category="Machine Learning/IO")
class ModelWriter(Node):
    """Writes an XGBoost, scikit-learn or H2O model to a file.

    XGBoost models are written in XGBoost's JSON format (readable by plain xgboost; DeepNodes' metadata is
    kept as booster attributes); scikit-learn models as skops files (.skops), or as pickle when 'format'
    is 'pickle' (readable only with the reader's explicit trust option); H2O models as MOJO zip files (plain
    H2O reads them too), or as H2O's binary model when 'format' is 'binary' (while its session runs)."""

    inputs = [In("model", "model", "the model to write")]
    outputs = []
    cacheable = False

    class Config(NodeConfig):
        path: str = Field("", description="the file to write (.json for XGBoost, .skops or .pkl for scikit-learn)")
        format: Literal["auto", "skops", "pickle", "mojo", "binary"] = Field(
            "auto", description="scikit-learn: skops or pickle ('auto' = skops); H2O: mojo or binary ('auto' = mojo)")
        overwrite: bool = Field(True, description="replace an existing file")

    def configure(self, specs):
        if not self.config.path:
            raise NodeError("option 'path' is empty; give the file to write")
        return []

    def execute(self, inputs, ctx):
        from deepnodes.ml.model import ClassicModel, write_file

        model = inputs[0]
        if getattr(model, "model_type", None) == "h2o":
            from deepnodes.nodes.h2o.files import write_h2o_model

            write_h2o_model(model, self.config, ctx)
            return []
        if not isinstance(model, ClassicModel):
            raise NodeError(f"the Model Writer writes XGBoost and scikit-learn models; it got a "
                            f"'{getattr(model, 'model_type', type(model).__name__)}' model")
        path = Path(self.config.path).expanduser()
        if path.exists() and not self.config.overwrite:
            raise NodeError(f"'{path}' (option 'path') exists and option 'overwrite' is off")
        write_file(model, path, self.config.format)
        ctx.log(f"wrote {model.library} model to {path}")
        return []


@node("deepnodes.ml.ModelReader", name="Model Reader", category="Machine Learning/IO")
class ModelReader(Node):
    """Reads an XGBoost (.json), scikit-learn (.skops; .pkl only with 'trust_pickle') or H2O model file
    (a MOJO .zip, also one written by H2O itself; an H2O binary model only with 'trust_pickle')."""

    inputs = []
    outputs = [Out("model", "model", "the model")]

    class Config(NodeConfig):
        path: str = Field("", description="the model file")
        trust_pickle: bool = Field(False, description="allow reading a pickle file or an H2O binary model; both "
                                   "can run any code in them, so turn this on only for files you trust")
        trusted_types: list[str] = Field(default_factory=list, description="extra types a skops file may "
                                         "contain beyond the curated estimators (only for files you trust)")

    def configure(self, specs):
        if not self.config.path:
            raise NodeError("option 'path' is empty; give the model file to read")
        p = Path(self.config.path).expanduser()
        if not p.exists():
            raise NodeError(f"model file '{p}' (option 'path') does not exist")
        return [None]

    def signature_extra(self) -> str:
        p = Path(self.config.path).expanduser()
        try:
            st = p.stat()
            return f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            return ""

    def execute(self, inputs, ctx):
        from deepnodes.h2o.model import is_h2o_file
        from deepnodes.ml.model import read_file

        if is_h2o_file(Path(self.config.path).expanduser()):
            from deepnodes.nodes.h2o.files import read_h2o_model

            return [read_h2o_model(Path(self.config.path).expanduser(), self.config.trust_pickle, ctx)]
        return [read_file(Path(self.config.path).expanduser(), self.config.trust_pickle, self.config.trusted_types)]
