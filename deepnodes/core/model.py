"""The `model` port: fitted objects that are not networks (normalizers, dictionaries, XGBoost, scikit-learn).

A model class subclasses `Model`, names itself with `model_type`, and saves to / loads from a folder.
Results folders record the class by its import path, but that path is only looked up, never imported from the
file: it must be one of DeepNodes' own model classes (`BUILTIN_CLASSES`, a fixed list in code) or a class a plugin
registered with `register_model_class`. Nothing is unpickled.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

#: DeepNodes' own model classes, by the path results folders record (imported by this code, never by a file)
BUILTIN_CLASSES = ("deepnodes.dl.text:Vocabulary", "deepnodes.ml.model:ClassicModel",
                   "deepnodes.table.normalizer:Normalizer", "deepnodes.h2o.model:H2OModel")
_TRUSTED: dict[str, type] = {}


def register_model_class(cls: type) -> type:
    """Class decorator for plugins: results folders may name this `Model` subclass."""
    _TRUSTED[f"{cls.__module__}:{cls.__qualname__}"] = cls
    return cls


def model_class(cls_path: object, where: str) -> type:
    """The model class a results folder names (see the module docstring); ValueError with a sentence otherwise."""
    if isinstance(cls_path, str) and cls_path in BUILTIN_CLASSES:
        mod, _, name = cls_path.partition(":")
        cls = getattr(importlib.import_module(mod), name)
    elif isinstance(cls_path, str) and cls_path in _TRUSTED:
        cls = _TRUSTED[cls_path]
    else:
        raise ValueError(f"{where} names the model class {str(cls_path)[:120]!r}, which is neither a DeepNodes model "
                         "class nor one a plugin registered; refusing to load it")
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ValueError(f"{where}: '{cls_path}' is not a model class")
    return cls


@dataclass(frozen=True)
class ModelSpec:
    """What a downstream node knows about a model before it exists."""

    model_type: str
    info: dict = field(default_factory=dict, hash=False, compare=False)
    port_type = "model"

    def to_json(self) -> dict:
        return {"port_type": "model", "model_type": self.model_type, "info": self.info}


class Model:
    model_type: ClassVar[str] = "model"

    def spec(self) -> ModelSpec:
        return ModelSpec(self.model_type)

    def save(self, folder: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, folder: Path) -> "Model":
        raise NotImplementedError

    def summary(self) -> dict:
        return {"model_type": self.model_type}


class _ModelIO:
    def save(self, obj: Model, path: str) -> str:
        folder = Path(path + ".model")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.json").write_text(json.dumps(
            {"model_type": obj.model_type, "class": f"{type(obj).__module__}:{type(obj).__qualname__}"}))
        obj.save(folder)
        return folder.name

    def load(self, path: str) -> Model:
        folder = Path(path)
        try:
            head = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"the saved model {folder / 'model.json'} cannot be read ({str(e)[:120]})") from None
        cls = model_class(head.get("class") if isinstance(head, dict) else None, str(folder / "model.json"))
        return cls.load(folder)

    def spec_of(self, obj: Model) -> ModelSpec:
        return obj.spec()

    def summary(self, obj: Any) -> dict:
        return obj.summary()


MODEL_IO = _ModelIO()
