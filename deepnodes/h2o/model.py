"""The H2O model on a `model` port, and its files.

An `H2OModel` holds its MOJO bytes (taken from the cluster right after training), so it scores and saves
without a running cluster, plus the id of the model inside the session that trained it (scored there
while that session lives). Files:

- MOJO (`.zip`): H2O's own MOJO with one extra entry `deepnodes.json` (task, features, classes,
  categories); plain H2O tools read it as any MOJO, and a plain MOJO from H2O reads here too (its layout
  comes from its `model.ini`).
- H2O binary model (`.h2o`): a zip of H2O's binary model, the MOJO and `deepnodes.json`. Loading a
  binary model deserialises Java objects inside the cluster, so it is read only with the trust option.
Zip entries are checked for size before anything is read (a zip bomb is refused).
"""
from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from pathlib import Path

from deepnodes.core.model import Model, ModelSpec
from deepnodes.ml.features import FeatureColumn, feature_names

FORMAT_VERSION = 1
META_ENTRY = "deepnodes.json"
BINARY_ENTRY = "h2o-binary-model"
MOJO_ENTRY = "model.mojo.zip"
MAX_EXPANSION = 200          # uncompressed bytes per file byte a model zip may declare
MAX_META = 16 << 20


class H2OModel(Model):
    model_type = "h2o"

    def __init__(self, algorithm: str, task: str, target: str, target_kind: str, class_names: list[str] | None,
                 features: list[FeatureColumn], domains: dict[str, list[str]], mojo: bytes,
                 params: dict | None = None, model_id: str | None = None, generation: int | None = None):
        self.algorithm = algorithm        # "gbm", "drf", "glm", "deeplearning", "stackedensemble", ...
        self.task = task                  # "classification" or "regression"
        self.target = target
        self.target_kind = target_kind
        self.class_names = list(class_names) if class_names is not None else None
        self.features = list(features)
        self.domains = {k: list(v) for k, v in domains.items()}
        self.mojo = mojo
        self.params = dict(params or {})
        self.model_id = model_id          # the model inside the session that trained it
        self.generation = generation      # which session (a restarted one has a new generation)

    @property
    def feature_names(self) -> list[str]:
        return feature_names(self.features)

    def in_session(self, session) -> bool:
        return session is not None and self.model_id is not None and session.generation == self.generation

    def meta(self) -> dict:
        return {"format": FORMAT_VERSION, "library": "h2o", "algorithm": self.algorithm, "task": self.task,
                "target": self.target, "target_kind": self.target_kind, "class_names": self.class_names,
                "features": [f.to_json() for f in self.features], "domains": self.domains, "params": self.params}

    @classmethod
    def from_meta(cls, meta: dict, mojo: bytes, name: str) -> "H2OModel":
        if not isinstance(meta, dict) or meta.get("library") != "h2o":
            raise ValueError(f"'{name}' holds no DeepNodes H2O metadata")
        if meta.get("format", 1) > FORMAT_VERSION:
            raise ValueError(f"'{name}' was written by a newer DeepNodes (format {meta['format']}); this version "
                             f"reads format {FORMAT_VERSION}")
        try:
            return cls(str(meta["algorithm"]), str(meta["task"]), str(meta["target"]), str(meta["target_kind"]),
                       meta.get("class_names"), [FeatureColumn.from_json(f) for f in meta["features"]],
                       dict(meta.get("domains") or {}), mojo, meta.get("params"))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"'{name}' has damaged DeepNodes H2O metadata ({type(e).__name__}: {e})") from None

    def spec(self) -> ModelSpec:
        return ModelSpec("h2o", {"algorithm": self.algorithm, "task": self.task, "target": self.target,
                                 "target_kind": self.target_kind, "class_names": self.class_names,
                                 "features": [f.to_json() for f in self.features]})

    def summary(self) -> dict:
        return {"model_type": "h2o", "algorithm": self.algorithm, "task": self.task, "target": self.target,
                "features": len(self.feature_names), "classes": self.class_names, "mojo_bytes": len(self.mojo)}

    # ------------------------------------------------------------------ the engine's results folder
    def save(self, folder: Path) -> None:
        write_file(self, Path(folder) / "model.zip")

    @classmethod
    def load(cls, folder: Path) -> "H2OModel":
        return read_file(Path(folder) / "model.zip")


# --------------------------------------------------------------------------- files
def write_file(model: H2OModel, path: str | Path, fmt: str = "mojo", session=None) -> Path:
    """Write a MOJO (`fmt='mojo'`) or H2O's binary model (`fmt='binary'`, needs the model's live session)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps(model.meta(), sort_keys=True).encode()
    buf = io.BytesIO()
    if fmt == "mojo":
        with zipfile.ZipFile(io.BytesIO(model.mojo)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                if info.filename != META_ENTRY:
                    dst.writestr(info, src.read(info))
            dst.writestr(META_ENTRY, meta)
    elif fmt == "binary":
        if not model.in_session(session):
            raise ValueError("an H2O binary model can only be written while the session that trained it runs; "
                             "write a MOJO instead (option 'format' 'mojo')")
        binary = _download_binary(model)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
            dst.writestr(BINARY_ENTRY, binary)
            dst.writestr(MOJO_ENTRY, model.mojo)
            dst.writestr(META_ENTRY, meta)
    else:
        raise ValueError(f"option 'format' '{fmt}' is not one of 'mojo', 'binary' for an H2O model")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        _open_zip(tmp, path.name).close()  # verify before it replaces anything
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _download_binary(model: H2OModel) -> bytes:
    import tempfile

    import h2o

    with tempfile.TemporaryDirectory(prefix="deepnodes-h2o-bin-") as d:
        saved = h2o.download_model(h2o.get_model(model.model_id), path=d)
        return Path(saved).read_bytes()


def is_h2o_file(path: str | Path) -> bool:
    """Whether `path` is a zip holding an H2O MOJO or a DeepNodes H2O binary model."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return "model.ini" in names or BINARY_ENTRY in names


def _open_zip(path: Path, name: str) -> zipfile.ZipFile:
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"'{name}' is not a readable H2O model file ({e})") from None
    declared = sum(i.file_size for i in z.infolist())
    if declared > MAX_EXPANSION * max(path.stat().st_size, 1) + (1 << 20):
        z.close()
        raise ValueError(f"'{name}' declares {declared} bytes of content for a {path.stat().st_size}-byte file; "
                         f"refusing it as a damaged or hostile zip")
    return z


def _read_entry(z: zipfile.ZipFile, entry: str, name: str, limit: int | None = None) -> bytes:
    try:
        info = z.getinfo(entry)
        if limit is not None and info.file_size > limit:
            raise ValueError(f"'{name}': entry '{entry}' is {info.file_size} bytes, over the {limit}-byte limit")
        return z.read(info)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error) as e:
        raise ValueError(f"'{name}' is a damaged H2O model file ({type(e).__name__}: {e})") from None


def read_file(path: str | Path, trust_binary: bool = False, session_for_binary=None) -> H2OModel:
    """Read a MOJO or an H2O binary model file; a binary one needs `trust_binary` and loads into a session."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file '{path}' (option 'path') does not exist")
    with _open_zip(path, path.name) as z:
        names = set(z.namelist())
        meta_raw = _read_entry(z, META_ENTRY, path.name, MAX_META) if META_ENTRY in names else None
        if BINARY_ENTRY in names:
            if not trust_binary:
                raise ValueError(f"'{path.name}' is an H2O binary model, and loading one runs Java deserialisation "
                                 f"inside H2O; turn on option 'trust_pickle' only if you trust where it came from, "
                                 f"or use a MOJO file")
            mojo = _read_entry(z, MOJO_ENTRY, path.name)
            binary = _read_entry(z, BINARY_ENTRY, path.name)
        elif "model.ini" in names:
            mojo, binary = path.read_bytes(), None
            ini = _read_entry(z, "model.ini", path.name, MAX_META).decode("utf-8", "replace")
        else:
            raise ValueError(f"'{path.name}' is a zip file but neither an H2O MOJO nor an H2O binary model")
        if meta_raw is not None:
            try:
                meta = json.loads(meta_raw)
            except ValueError as e:
                raise ValueError(f"'{path.name}' has damaged DeepNodes H2O metadata ({e})") from None
            model = H2OModel.from_meta(meta, mojo, path.name)
        elif binary is None:
            model = _from_plain_mojo(z, ini, mojo, path.name)
        else:
            raise ValueError(f"'{path.name}' has no DeepNodes metadata ({META_ENTRY})")
    if binary is not None:
        model.model_id, model.generation = _upload_binary(binary, session_for_binary, path.name)
    return model


def _upload_binary(binary: bytes, session, name: str) -> tuple[str, int]:
    import tempfile

    import h2o

    from .session import translate_errors

    if session is None:
        raise ValueError(f"'{name}' is an H2O binary model; reading it needs an H2O session")
    with tempfile.TemporaryDirectory(prefix="deepnodes-h2o-bin-") as d:
        p = Path(d) / "model.bin"
        p.write_bytes(binary)
        with translate_errors(session, f"loading the binary model '{name}'"):
            m = h2o.upload_model(str(p))
    return m.model_id, session.generation


def _from_plain_mojo(z: zipfile.ZipFile, ini: str, mojo: bytes, name: str) -> H2OModel:
    """The DeepNodes view of a MOJO written by H2O itself: every column a number or category feature."""
    info: dict[str, str] = {}
    columns: list[str] = []
    domains: dict[int, str] = {}
    section = ""
    for raw in ini.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif not line:
            continue
        elif section == "info" and "=" in line:
            k, _, v = line.partition("=")
            info[k.strip()] = v.strip()
        elif section == "columns":
            columns.append(line)
        elif section == "domains" and ":" in line:
            k, _, v = line.partition(":")
            domains[int(k)] = v.split()[-1]
    if info.get("supervised") != "true" or not columns:
        raise ValueError(f"'{name}' is not a supervised H2O MOJO (no response column); DeepNodes applies "
                         f"classification and regression MOJOs")

    def levels(i: int) -> list[str]:
        text = _read_entry(z, f"domains/{domains[i]}", name, MAX_META).decode("utf-8", "replace")
        return [s for s in text.splitlines()]

    target = columns[-1]
    classification = info.get("category") in ("Binomial", "Multinomial")
    features = [FeatureColumn(c, "category" if i in domains else "number") for i, c in enumerate(columns[:-1])]
    doms = {c: levels(i) for i, c in enumerate(columns[:-1]) if i in domains}
    classes = levels(len(columns) - 1) if classification and (len(columns) - 1) in domains else None
    return H2OModel(info.get("algo", "unknown"), "classification" if classification else "regression", target,
                    "category" if classification else "number", classes, features, doms, mojo)
