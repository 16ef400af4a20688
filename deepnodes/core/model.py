"""The `model` port: fitted objects that are not networks (normalizers, dictionaries, XGBoost, scikit-learn).

A model class subclasses `Model`, names itself with `model_type`, and saves to / loads from a folder.
Results folders record the class by its import path; only `Model` subclasses inside `deepnodes` (or a
plugin registered with `register_model_class`) are ever loaded, and nothing is unpickled.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

_TRUSTED: set[str] = set()


def register_model_class(cls: type) -> type:
    _TRUSTED.add(f"{cls.__module__}:{cls.__qualname__}")
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
        head = json.loads((folder / "model.json").read_text())
        cls_path = head["class"]
        mod, _, name = cls_path.partition(":")
        if not (mod == "deepnodes" or mod.startswith("deepnodes.")) and cls_path not in _TRUSTED:
            raise ValueError(f"model class '{cls_path}' is not a DeepNodes model class; refusing to load it")
        cls = getattr(importlib.import_module(mod), name)
        if not (isinstance(cls, type) and issubclass(cls, Model)):
            raise ValueError(f"'{cls_path}' is not a model class")
        return cls.load(folder)

    def spec_of(self, obj: Model) -> ModelSpec:
        return obj.spec()

    def summary(self, obj: Any) -> dict:
        return obj.summary()


MODEL_IO = _ModelIO()
