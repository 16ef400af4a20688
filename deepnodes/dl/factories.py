"""The registry of module factories: the few functions that may rebuild a torch module from a saved file.

A network file names how to rebuild an opaque module (a pretrained CNN's part, an imported Keras model) by the
*registered name* of a factory, never by an import path:

    @module_factory("keras_model")
    def rebuild(config: str, trust: bool = False) -> KerasModule: ...

    module = call_factory({"path": "keras_model", "args": {"config": ...}}, where="net.dnn")

Nothing named in a file is ever imported: the registry holds what DeepNodes' own modules registered
(`BUILTIN_MODULES`, imported by this code, not by the file) and what plugins registered by calling the
decorator. Files written before the registry named factories by dotted path ("deepnodes.dl.formats.keras:rebuild");
such a path still loads when it is exactly the path of a registered factory. The arguments are validated against
the factory's signature and annotations (pydantic) before it is called. Torch-free.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable

#: DeepNodes modules whose factories are registered on import (a fixed list in code, never read from a file)
BUILTIN_MODULES = ("deepnodes.dl.pretrained", "deepnodes.dl.formats.keras")


@dataclass(frozen=True)
class Factory:
    name: str
    fn: Callable[..., Any]
    takes_trust: bool

    @property
    def legacy_path(self) -> str:
        return f"{self.fn.__module__}:{self.fn.__qualname__}"


_FACTORIES: dict[str, Factory] = {}
_LEGACY: dict[str, str] = {}
_loaded = False


class FactoryError(ValueError):
    """A file names a factory that is not registered, or gives it arguments it does not accept."""


def module_factory(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register `fn` as the module factory `name` (a stable name that files record). A factory that
    has a `trust` parameter is told whether the user turned trust on (it is never taken from the file)."""
    if not name or ":" in name:
        raise ValueError(f"factory name '{name}' must be non-empty and contain no ':'")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        f = Factory(name, fn, "trust" in inspect.signature(fn).parameters)
        old = _FACTORIES.get(name)
        if old is not None and old.legacy_path != f.legacy_path:
            raise ValueError(f"module factory '{name}' is registered twice ({old.legacy_path}, {f.legacy_path})")
        _FACTORIES[name] = f
        _LEGACY[f.legacy_path] = name
        return fn

    return deco


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        for mod in BUILTIN_MODULES:
            try:
                importlib.import_module(mod)
            except ImportError:  # an optional dependency missing: its factories are simply not there
                pass
        _loaded = True


def registered() -> dict[str, Factory]:
    _load_builtin()
    return dict(_FACTORIES)


def resolve(ref: Any, where: str) -> Factory:
    """The registered factory that `ref` (a name, or the legacy dotted path of a registered factory) names."""
    _load_builtin()
    if not isinstance(ref, str) or not ref:
        raise FactoryError(f"{where} names its module factory with {_show(ref)}, not a factory name")
    name = ref if ref in _FACTORIES else _LEGACY.get(ref)
    if name is None:
        known = ", ".join(f"'{n}'" for n in sorted(_FACTORIES)) or "none"
        raise FactoryError(f"{where} names the module factory {_show(ref)}, which is not a registered DeepNodes "
                           f"factory (registered: {known}); refusing to call it")
    return _FACTORIES[name]


def check_args(factory: Factory, args: Any, where: str) -> dict:
    """`args` validated against the factory's parameters (names, required ones, annotated types)."""
    if not isinstance(args, dict):
        raise FactoryError(f"{where} gives module factory '{factory.name}' arguments {_show(args)}, not an object")
    sig = inspect.signature(factory.fn)
    params = {k: p for k, p in sig.parameters.items() if k != "trust"}
    for k in args:
        if k not in params or params[k].kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise FactoryError(f"{where} gives module factory '{factory.name}' an argument {_show(k)} it does not "
                               f"take (it takes {', '.join(repr(n) for n in params) or 'none'})")
    for k, p in params.items():
        if p.default is inspect.Parameter.empty and k not in args:
            raise FactoryError(f"{where} does not give module factory '{factory.name}' its argument '{k}'")
    try:
        _args_model(factory).model_validate(args)
    except Exception as e:  # noqa: BLE001 - pydantic's ValidationError: its first problem in one sentence
        first = e.errors()[0] if hasattr(e, "errors") else {"loc": (), "msg": str(e)}
        loc = ".".join(str(x) for x in first.get("loc", ()))
        raise FactoryError(f"{where} gives module factory '{factory.name}' a bad argument '{loc}': "
                           f"{first.get('msg', '')[:120]}") from None
    return dict(args)


_MODELS: dict[str, Any] = {}


def _args_model(factory: Factory):
    """A pydantic model of the factory's parameters (trust excluded), from its signature and type hints."""
    if factory.name not in _MODELS:
        import typing

        from pydantic import ConfigDict, create_model

        try:
            hints = typing.get_type_hints(factory.fn)
        except Exception:  # noqa: BLE001 - unresolvable annotations: names are still checked
            hints = {}
        fields = {k: (hints.get(k, Any), ... if p.default is inspect.Parameter.empty else p.default)
                  for k, p in inspect.signature(factory.fn).parameters.items() if k != "trust"}
        _MODELS[factory.name] = create_model(f"{factory.name}_args", __config__=ConfigDict(
            extra="forbid", arbitrary_types_allowed=True), **fields)
    return _MODELS[factory.name]


def call_factory(factory_ref: Any, where: str, trust: bool = False):
    """Rebuild a module from a file's factory record {"path": name, "args": {...}} (see the module docstring)."""
    if not isinstance(factory_ref, dict):
        raise FactoryError(f"{where} records its module factory as {_show(factory_ref)}, not an object")
    f = resolve(factory_ref.get("path", factory_ref.get("name")), where)
    args = check_args(f, factory_ref.get("args", {}), where)
    if f.takes_trust:
        args["trust"] = trust
    return f.fn(**args)


def stable_ref(ref: str) -> str:
    """The registered name for `ref` (a name or a legacy path), or `ref` itself when it names nothing."""
    _load_builtin()
    return ref if ref in _FACTORIES else _LEGACY.get(ref, ref)


def _show(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 120 else s[:117] + "..."
