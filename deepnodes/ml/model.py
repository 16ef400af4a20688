"""The fitted classic model that flows through a `model` port, and its file formats.

- XGBoost: XGBoost's own JSON model format; DeepNodes' metadata (task, features, classes) is stored as
  booster attributes inside the same file, so plain `xgboost` reads it too.
- scikit-learn: skops (`.skops`), loaded with only the curated estimator types trusted; pickle (`.pkl`)
  only when a user turns on an explicit trust option, because unpickling runs arbitrary code.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deepnodes.core.model import Model, ModelSpec

from .features import FeatureColumn, feature_names

META_ATTR = "deepnodes"
FORMAT_VERSION = 1

#: every type a curated scikit-learn model may contain; skops loads nothing else unless the user trusts it
TRUSTED_SKLEARN_TYPES = [
    "sklearn.pipeline.Pipeline", "sklearn.preprocessing._data.StandardScaler",
    "sklearn.ensemble._forest.RandomForestClassifier", "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree", "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.ensemble._gb.GradientBoostingClassifier", "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn.ensemble._gb_losses.BinomialDeviance", "sklearn.ensemble._gb_losses.MultinomialDeviance",
    "sklearn.ensemble._gb_losses.LeastSquaresError", "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss", "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.link.LogitLink", "sklearn._loss.link.IdentityLink", "sklearn._loss.link.Interval",
    "sklearn._loss.link.MultinomialLogit", "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss", "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn.dummy.DummyClassifier", "sklearn.dummy.DummyRegressor",
    "sklearn.svm._classes.SVC", "sklearn.svm._classes.SVR",
    "sklearn.neighbors._classification.KNeighborsClassifier", "sklearn.neighbors._regression.KNeighborsRegressor",
    "sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64", "sklearn.metrics._dist_metrics.EuclideanDistance32",
    "sklearn.metrics._dist_metrics.ManhattanDistance64", "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.utils._bunch.Bunch", "numpy.random.mtrand.RandomState", "numpy.random._mt19937.MT19937",
    "builtins.slice", "collections.OrderedDict", "numpy.dtype", "numpy.ndarray", "numpy.float64", "numpy.int64",
]


class ClassicModel(Model):
    """An XGBoost or scikit-learn estimator with what DeepNodes needs to apply it to a table."""

    model_type = "classic"

    def __init__(self, library: str, algorithm: str, task: str, estimator: Any, features: list[FeatureColumn],
                 target: str, target_kind: str, class_names: list[str] | None = None, params: dict | None = None):
        self.library = library            # "xgboost" or "sklearn"
        self.algorithm = algorithm        # "xgboost", "random_forest", ...
        self.task = task                  # "classification" or "regression"
        self.estimator = estimator
        self.features = list(features)
        self.target = target
        self.target_kind = target_kind
        self.class_names = list(class_names) if class_names is not None else None
        self.params = dict(params or {})

    # the model_type names the library so a node can tell an XGBoost model from a scikit-learn one at configure time
    @property
    def model_type(self) -> str:  # type: ignore[override]
        return self.library

    @property
    def feature_names(self) -> list[str]:
        return feature_names(self.features)

    def meta(self) -> dict:
        return {"format": FORMAT_VERSION, "library": self.library, "algorithm": self.algorithm, "task": self.task,
                "features": [f.to_json() for f in self.features], "target": self.target,
                "target_kind": self.target_kind, "class_names": self.class_names, "params": self.params}

    @classmethod
    def _from_meta(cls, meta: dict, estimator: Any) -> "ClassicModel":
        if meta.get("format", 1) > FORMAT_VERSION:
            raise ValueError(f"the model file was written by a newer DeepNodes (format {meta['format']}); "
                             f"this version reads format {FORMAT_VERSION}")
        return cls(meta["library"], meta["algorithm"], meta["task"], estimator,
                   [FeatureColumn.from_json(f) for f in meta["features"]], meta["target"], meta["target_kind"],
                   meta.get("class_names"), meta.get("params"))

    def spec(self) -> ModelSpec:
        return ModelSpec(self.library, {"algorithm": self.algorithm, "task": self.task, "target": self.target,
                                        "target_kind": self.target_kind, "class_names": self.class_names,
                                        "features": [f.to_json() for f in self.features]})

    def summary(self) -> dict:
        return {"model_type": self.library, "algorithm": self.algorithm, "task": self.task, "target": self.target,
                "features": len(self.feature_names), "classes": self.class_names}

    # ------------------------------------------------------------------ the engine's results folder
    def save(self, folder: Path) -> None:
        folder = Path(folder)
        if self.library == "xgboost":
            write_file(self, folder / "xgboost.json")
        else:
            write_file(self, folder / "model.skops")

    @classmethod
    def load(cls, folder: Path) -> "ClassicModel":
        folder = Path(folder)
        f = folder / "xgboost.json"
        return read_file(f if f.exists() else folder / "model.skops")


# --------------------------------------------------------------------------- files
def default_suffix(model: ClassicModel, fmt: str = "auto") -> str:
    if model.library == "xgboost":
        return ".json"
    return ".pkl" if fmt == "pickle" else ".skops"


def write_file(model: ClassicModel, path: str | Path, fmt: str = "auto") -> Path:
    """Write `model` to `path`: XGBoost JSON, skops, or pickle (`fmt='pickle'`, scikit-learn only)."""
    from deepnodes.core.atomic_files import RefusedWrite, replace_file

    path = Path(path)
    if model.library == "xgboost":
        if fmt not in ("auto", "json"):
            raise ValueError(f"an XGBoost model is written in XGBoost's JSON format; option 'format' "
                             f"'{fmt}' does not apply")

        def write(tmp: Path) -> None:
            booster = model.estimator.get_booster()
            booster.set_attr(**{META_ATTR: json.dumps(model.meta())})
            booster.save_model(str(tmp))
    elif fmt == "pickle":
        def write(tmp: Path) -> None:
            import pickle

            with open(tmp, "wb") as fh:
                pickle.dump({META_ATTR: json.dumps(model.meta()), "estimator": model.estimator}, fh)
    elif fmt in ("auto", "skops"):
        def write(tmp: Path) -> None:
            import skops.io as sio

            sio.dump({META_ATTR: json.dumps(model.meta()), "estimator": model.estimator}, str(tmp))
    else:
        raise ValueError(f"option 'format' '{fmt}' is not one of 'auto', 'skops', 'pickle'")
    # written beside, read back (pickle: what we just wrote), then switched into place; an existing file that
    # is not a model file of the same kind is never replaced
    verify = (lambda tmp: read_file(tmp, trust_pickle=True)) if fmt != "pickle" else None
    try:
        return replace_file(path, write, verify, owned=lambda p: _is_model_file(p, model.library, fmt),
                            what="model file")
    except RefusedWrite as e:
        raise ValueError(f"option 'path': {e}") from None


def _is_model_file(path: Path, library: str, fmt: str) -> bool:
    """Whether `path` already holds a model file of the kind about to be written (so replacing it loses nothing
    the user made by hand)."""
    import zipfile

    with open(path, "rb") as fh:
        head = fh.read(4096)
    if library == "xgboost":
        return head.lstrip().startswith(b"{") and b'"learner"' in head
    if fmt == "pickle":
        return head.startswith(b"\x80")
    try:
        with zipfile.ZipFile(path) as z:
            return "schema.json" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def read_file(path: str | Path, trust_pickle: bool = False, trusted_types: list[str] | None = None) -> ClassicModel:
    """Read a model file written by `write_file` (the format is told by the file's content and suffix)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file '{path}' (option 'path') does not exist")
    if not path.is_file():
        raise ValueError(f"model file '{path}' (option 'path') is a folder, not a file")
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    if head.startswith(b"{") or path.suffix in (".json", ".ubj"):
        return _read_xgboost(path)
    if path.suffix in (".pkl", ".pickle") or head.startswith(b"\x80"):
        if not trust_pickle:
            raise ValueError(f"'{path.name}' is a pickle file, and unpickling can run any code; turn on option "
                             f"'trust_pickle' only if you trust where this file came from")
        import pickle

        with open(path, "rb") as fh:
            obj = pickle.load(fh)  # noqa: S301 - only behind the user's explicit trust option
        return _from_bundle(obj, path)
    import skops.io as sio

    from deepnodes.core.bounded_zip import check_zip

    check_zip(path, "skops model file")  # a skops file is a zip: sizes screened before skops reads it
    try:
        untrusted = sio.get_untrusted_types(file=str(path))
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"'{path.name}' is not a readable skops model file ({e})") from None
    allowed = set(TRUSTED_SKLEARN_TYPES) | set(trusted_types or ())
    bad = [t for t in untrusted if t not in allowed]
    if bad:
        raise ValueError(f"'{path.name}' contains types DeepNodes does not trust ({', '.join(bad[:5])}); add them to "
                         f"option 'trusted_types' only if you trust where this file came from")
    try:
        obj = sio.load(str(path), trusted=list(untrusted))
    except Exception as e:  # noqa: BLE001 - skops raises many types for a damaged file
        raise ValueError(f"'{path.name}' is not a readable skops model file ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:150] if str(e) else ''})") from None
    return _from_bundle(obj, path)


def _from_bundle(obj: Any, path: Path) -> ClassicModel:
    if not isinstance(obj, dict) or META_ATTR not in obj or "estimator" not in obj:
        raise ValueError(f"'{path.name}' is not a DeepNodes model file (no DeepNodes metadata in it)")
    return _parse_meta(obj[META_ATTR], obj["estimator"], path)


def _parse_meta(raw: Any, estimator: Any, path: Path) -> ClassicModel:
    """The model from its DeepNodes metadata (JSON text); damaged metadata is one sentence naming the file."""
    try:
        meta = json.loads(raw)
        return ClassicModel._from_meta(meta, estimator)
    except ValueError as e:
        if "newer DeepNodes" in str(e):
            raise
        raise ValueError(f"the DeepNodes metadata in '{path.name}' is damaged (not valid JSON)") from None
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"the DeepNodes metadata in '{path.name}' is damaged ({type(e).__name__}: {str(e)[:80]})") \
            from None


def _read_xgboost(path: Path) -> ClassicModel:
    import xgboost as xgb

    booster = _load_xgboost(xgb.Booster(), path)
    try:
        raw = booster.attr(META_ATTR)
    except UnicodeDecodeError:
        raise ValueError(f"the DeepNodes metadata in '{path.name}' is damaged (not UTF-8 text)") from None
    if raw is None:
        raise ValueError(f"'{path.name}' is an XGBoost model without DeepNodes metadata (task, features, classes); "
                         f"write it with the Model Writer node")
    try:
        task = json.loads(raw)["task"]
    except (ValueError, KeyError, TypeError):
        task = None
    est = _load_xgboost((xgb.XGBClassifier if task == "classification" else xgb.XGBRegressor)(), path)
    return _parse_meta(raw, est, path)


def _load_xgboost(obj: Any, path: Path) -> Any:
    """`obj.load_model(path)`; whatever XGBoost raises for a damaged file (its own error, a text that is not
    UTF-8 JSON, ...) is one sentence naming the file."""
    import xgboost as xgb

    try:
        obj.load_model(str(path))
    except (xgb.core.XGBoostError, ValueError) as e:  # UnicodeDecodeError is a ValueError
        text = str(e).strip()
        first = text.splitlines()[0] if text else "unreadable"
        raise ValueError(f"'{path.name}' is not a readable XGBoost model file ({type(e).__name__}: "
                         f"{first[:150]})") from None
    return obj
