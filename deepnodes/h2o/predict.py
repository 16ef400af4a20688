"""Applying an H2O model to a table: in the cluster that holds it, or from its MOJO without a cluster.

    out = predict(model, table, probabilities=True, session=current())

The table is checked first (every feature column of the kind and shape used in training, no category
the model never saw). With a session that holds the model, H2O scores it there; otherwise the MOJO is
scored by H2O's `mojo_predict_pandas` with the jar the `h2o` package carries (Java, no cluster). Both
give the same table: the predicted class (H2O's label, with its threshold for two classes) or value,
and optionally one probability column per class.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from deepnodes.ml.fit import append_classes
from deepnodes.table.arrow import set_column, spec_of

from .frames import check_categories, check_spec, flat_table, frame_to_arrow, upload
from .model import H2OModel
from .session import H2OError, Session, find_java, translate_errors


def genmodel_jar() -> str:
    """The jar that scores MOJOs: the h2o.jar inside the `h2o` package (it holds h2o-genmodel)."""
    import h2o.backend

    jar = Path(h2o.backend.__file__).parent / "bin" / "h2o.jar"
    if not jar.exists():
        raise H2OError(f"the h2o package has no h2o.jar at {jar}; reinstall it (pip install h2o)")
    return str(jar)


def scores_in_session(model: H2OModel, flat: pa.Table, session: Session) -> pa.Table:
    import h2o

    with translate_errors(session, "scoring in H2O"):
        frame = upload(flat, name="deepnodes-score")
        pred = h2o.get_model(model.model_id).predict(frame)
        out = frame_to_arrow(pred)
        h2o.remove([frame, pred])
    return out


def scores_from_mojo(model: H2OModel, flat: pa.Table, java_memory: str = "512m") -> pa.Table:
    from h2o.utils.shared_utils import mojo_predict_pandas

    find_java()
    with tempfile.TemporaryDirectory(prefix="deepnodes-mojo-") as d:
        path = os.path.join(d, "model.zip")
        Path(path).write_bytes(model.mojo)
        try:
            df = mojo_predict_pandas(flat.to_pandas(), path, genmodel_jar_path=genmodel_jar(),
                                     java_options=f"-Xmx{java_memory} -XX:ReservedCodeCacheSize=64m")
        except subprocess.CalledProcessError as e:
            raise H2OError(f"scoring the MOJO with Java failed (exit status {e.returncode})") from None
        except RuntimeError as e:
            raise H2OError(f"scoring the MOJO failed: {str(e).strip()[:200]}") from None
    return pa.Table.from_pandas(df, preserve_index=False)


def predict(model: H2OModel, table: pa.Table, prediction_column: str = "", probabilities: bool = False,
            session: Session | None = None) -> tuple[pa.Table, str]:
    """`table` with the prediction appended, and where it was scored ('session' or 'mojo')."""
    check_spec(spec_of(table), model.features)
    check_categories(table, model.features, model.domains)
    name = prediction_column or f"Prediction ({model.target})"
    if table.num_rows == 0:
        raw, where = None, "none"
    else:
        flat = flat_table(table, model.features)
        if model.in_session(session):
            raw, where = scores_in_session(model, flat, session), "session"
        else:
            raw, where = scores_from_mojo(model, flat), "mojo"
    if model.task == "regression":
        values = np.empty(0) if raw is None else np.asarray(raw.column(0).to_numpy(zero_copy_only=False), np.float64)
        return set_column(table, name, pa.array(values)), where
    classes = model.class_names or []
    if raw is None:
        idx, proba = np.empty(0, np.int64), np.empty((0, len(classes)))
    else:
        labels = np.asarray(raw.column(0).to_pandas().astype(str))
        index = {c: i for i, c in enumerate(classes)}
        idx = np.array([index.get(v, -1) for v in np.unique(labels)])[np.unique(labels, return_inverse=True)[1]]
        if (idx < 0).any():
            raise H2OError(f"H2O predicted a class outside the model's classes ({labels[idx < 0][0]!r})")
        proba = np.column_stack([np.asarray(raw.column(j + 1).to_numpy(zero_copy_only=False), np.float64)
                                 for j in range(len(classes))]) if raw.num_columns > len(classes) else \
            np.eye(len(classes))[idx]
    return append_classes(table, name, model.target, model.target_kind, classes, idx, proba, probabilities), where
