"""Model Writer and Model Reader: classic models as files (XGBoost JSON, skops, or trusted pickle)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, node


@node("deepnodes.ml.ModelWriter", name="Model Writer", category="Machine Learning/IO")
class ModelWriter(Node):
    """Writes an XGBoost or scikit-learn model to a file.

    XGBoost models are written in XGBoost's JSON format (readable by plain xgboost; DeepNodes' metadata is
    kept as booster attributes); scikit-learn models as skops files (.skops), or as pickle when 'format'
    is 'pickle' (readable only with the reader's explicit trust option)."""

    inputs = [In("model", "model", "the model to write")]
    outputs = []
    cacheable = False

    class Config(NodeConfig):
        path: str = Field("", description="the file to write (.json for XGBoost, .skops or .pkl for scikit-learn)")
        format: Literal["auto", "skops", "pickle"] = Field("auto", description="scikit-learn file format; "
                                                           "'auto' = skops")
        overwrite: bool = Field(True, description="replace an existing file")

    def configure(self, specs):
        if not self.config.path:
            raise NodeError("option 'path' is empty; give the file to write")
        return []

    def execute(self, inputs, ctx):
        from deepnodes.ml.model import ClassicModel, write_file

        model = inputs[0]
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
    """Reads an XGBoost (.json) or scikit-learn (.skops; .pkl only with 'trust_pickle') model file written by
    the Model Writer."""

    inputs = []
    outputs = [Out("model", "model", "the model")]

    class Config(NodeConfig):
        path: str = Field("", description="the model file")
        trust_pickle: bool = Field(False, description="allow reading a pickle file; unpickling runs any code "
                                   "in it, so turn this on only for files you trust")
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
        from deepnodes.ml.model import read_file

        return [read_file(Path(self.config.path).expanduser(), self.config.trust_pickle, self.config.trusted_types)]
