"""Issue 17, section 1: a network file is data. A factory named in a file is looked up in the registry, never
imported; with trust off or on, nothing named by a file runs (a side-effect sentinel proves it)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepnodes.dl.factories import FactoryError, call_factory, module_factory, registered, resolve
from deepnodes.dl.formats.native import NetworkFormatError, load_network, save_network

ROOT = Path(__file__).resolve().parents[2]


def _spec(layers: list | None = None) -> dict:
    x = {"name": "x", "shape": [4], "dtype": "float32"}
    y = {"name": "y", "shape": [2], "dtype": "float32"}
    return {"port_type": "network", "inputs": [x], "outputs": [y], "layers": layers or [],
            "output_layers": [layers[-1]["name"]] if layers else []}


def _weights() -> bytes:
    from safetensors.torch import save

    return save({})


def write_dnn(path: Path, factory: str, args: dict, as_layer: bool = False) -> Path:
    """A hand-made .dnn whose network.json names `factory` (as the opaque network's factory or a module layer's)."""
    w = _weights()
    head = {"format": "deepnodes.network", "version": 1, "built": True, "metadata": {},
            "sha256": {"weights.safetensors": hashlib.sha256(w).hexdigest()}, "sizes": {"weights.safetensors": len(w)}}
    if as_layer:
        x = {"name": "x", "shape": [4], "dtype": "float32"}
        m = {"name": "m", "shape": [2], "dtype": "float32"}
        head["spec"] = _spec([
            {"name": "x", "kind": "Input", "config": {"shape": [4], "dtype": "float32"}, "inputs": [], "outputs": [x]},
            {"name": "m", "kind": "module", "inputs": ["x"], "outputs": [m],
             "config": {"input_specs": {"inputs": [x]}, "output_specs": {"outputs": [m]}, "factory": factory,
                        "args": args, "class_path": None}}])
    else:
        head["spec"] = _spec()
        head["factory"] = {"path": factory, "args": args}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("network.json", json.dumps(head))
        z.writestr("weights.safetensors", w)
    return path


def _attacks(sentinel: Path) -> list[tuple[str, dict]]:
    touch = f"import pathlib; pathlib.Path({str(sentinel)!r}).write_text('ran')"
    return [
        ("deepnodes.scripting:run_script", {"code": touch, "namespace": {}}),
        ("os:system", {"command": f"touch {sentinel}"}),
        ("builtins:eval", {"source": f"__import__('pathlib').Path({str(sentinel)!r}).write_text('ran')"}),
        ("builtins:exec", {"source": touch}),
        ("subprocess:run", {"args": ["touch", str(sentinel)]}),
        ("deepnodes.scripting:call_in_script", {"fn": "print"}),
        ("deepnodes.dl.formats.keras:_keras", {}),  # a deepnodes function, but not a registered factory
    ]


@pytest.mark.parametrize("trust", [False, True])
@pytest.mark.parametrize("as_layer", [False, True])
def test_named_code_never_runs(tmp_path, trust, as_layer):
    sentinel = tmp_path / "sentinel"
    for i, (factory, args) in enumerate(_attacks(sentinel)):
        p = write_dnn(tmp_path / f"evil{i}.dnn", factory, args, as_layer)
        with pytest.raises(NetworkFormatError) as e:
            load_network(p, trust=trust)
        msg = str(e.value)
        assert "not a registered DeepNodes factory" in msg and str(p) in msg and "\n" not in msg
        assert not sentinel.exists(), f"{factory} ran"


_ident = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True)
_dotted = st.builds(lambda parts, fn, pre: ".".join(pre + parts) + ":" + fn,
                    st.lists(_ident, min_size=1, max_size=3), _ident,
                    st.sampled_from([[], ["deepnodes"], ["deepnodes", "dl"], ["os"], ["builtins"]]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.one_of(_dotted, st.text(max_size=40)), as_layer=st.booleans(), trust=st.booleans())
def test_generated_factory_paths_are_refused_without_importing(tmp_path, path, as_layer, trust):
    if path in registered() or any(f.legacy_path == path for f in registered().values()):
        return
    mod = path.partition(":")[0]
    before = set(sys.modules)
    p = write_dnn(tmp_path / "g.dnn", path, {}, as_layer)
    with pytest.raises(NetworkFormatError, match="factory"):
        load_network(p, trust=trust)
    new = set(sys.modules) - before
    assert mod not in new, f"loading imported {mod}"


def test_registry_validates_arguments():
    f = resolve("efficientnet_part", "x.dnn")
    with pytest.raises(FactoryError, match="x.dnn.*argument 'cmd' it does not take"):
        call_factory({"path": f.name, "args": {"cmd": "ls"}}, "x.dnn")
    with pytest.raises(FactoryError, match="x.dnn.*bad argument 'part'"):
        call_factory({"path": f.name, "args": {"part": ["stem"]}}, "x.dnn")
    with pytest.raises(FactoryError, match="x.dnn.*not an object"):
        call_factory({"path": f.name, "args": "stem"}, "x.dnn")
    with pytest.raises(FactoryError, match="does not give module factory 'keras_model' its argument 'config'"):
        call_factory({"path": "keras_model", "args": {}}, "x.dnn")
    with pytest.raises(ValueError, match="registered twice"):
        module_factory("efficientnet_part")(lambda: None)


def test_bad_factory_arguments_in_a_file_are_one_sentence(tmp_path):
    p = write_dnn(tmp_path / "a.dnn", "efficientnet_part", {"part": "stem", "evil": 1})
    with pytest.raises(NetworkFormatError, match=r"a\.dnn gives module factory 'efficientnet_part' an argument 'evil'"):
        load_network(p)
    p = write_dnn(tmp_path / "b.dnn", "keras_model", {"config": 12})
    with pytest.raises(NetworkFormatError, match=r"b\.dnn gives module factory 'keras_model' a bad argument 'config'"):
        load_network(p)


def _keras_network(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    from deepnodes.dl.formats.keras import import_keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    model.save(tmp_path / "m.keras")
    return import_keras(tmp_path / "m.keras")


def test_keras_network_records_the_registered_name_and_old_dotted_paths_still_load(tmp_path):
    import torch

    net = _keras_network(tmp_path)
    p = save_network(net, tmp_path / "k.dnn")
    with zipfile.ZipFile(p) as z:
        head = json.loads(z.read("network.json"))
        weights = z.read("weights.safetensors")
    assert head["factory"]["path"] == "keras_model"
    x = torch.rand(5, 4)
    want = net.forward(x)[0]
    assert torch.allclose(load_network(p).forward(x)[0], want)
    # a file written before the registry names the factory by its dotted path: it maps to the registered one
    head["factory"]["path"] = "deepnodes.dl.formats.keras:rebuild"
    old = tmp_path / "old.dnn"
    with zipfile.ZipFile(old, "w") as z:
        z.writestr("network.json", json.dumps(head))
        z.writestr("weights.safetensors", weights)
    assert torch.allclose(load_network(old).forward(x)[0], want)


def test_pretrained_module_layers_record_registered_names():
    from deepnodes.dl.pretrained import efficientnet_spec

    spec = efficientnet_spec()
    factories = {layer.config["factory"] for layer in spec.layers if layer.kind == "module"}
    assert factories == {"efficientnet_part"}


def test_cli_reading_an_evil_network_is_one_sentence_and_runs_nothing(tmp_path):
    sentinel = tmp_path / "sentinel"
    p = write_dnn(tmp_path / "evil.dnn", "os:system", {"command": f"touch {sentinel}"})
    wf = {"format": "deepnodes.workflow/1", "name": "evil", "connections": [],
          "nodes": [{"id": "r", "type": "deepnodes.dl.NetworkReader", "position": [0, 0], "config": {"path": str(p)}}]}
    (tmp_path / "wf.json").write_text(json.dumps(wf))
    r = subprocess.run([sys.executable, "-m", "deepnodes.cli", "run", str(tmp_path / "wf.json")], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "not a registered DeepNodes factory" in r.stdout + r.stderr
    assert not sentinel.exists()


@pytest.mark.parametrize("cls", ["os:system", "deepnodes.scripting:run_script", "builtins:eval", None, 3])
def test_saved_model_naming_any_other_class_is_refused(tmp_path, cls):
    from deepnodes.core.model import MODEL_IO

    folder = tmp_path / "n.model"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"model_type": "x", "class": cls}))
    before = set(sys.modules)
    with pytest.raises(ValueError, match="refusing to load it"):
        MODEL_IO.load(str(folder))
    assert "os" not in set(sys.modules) - before


def test_every_deepnodes_model_class_is_in_the_builtin_list():
    import importlib
    import pkgutil

    import deepnodes
    from deepnodes.core.model import BUILTIN_CLASSES, Model, model_class

    for info in pkgutil.walk_packages(deepnodes.__path__, "deepnodes."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    ours = {f"{c.__module__}:{c.__qualname__}" for c in subclasses(Model) if c.__module__.startswith("deepnodes.")}
    assert ours == set(BUILTIN_CLASSES)
    assert all(issubclass(model_class(p, "t"), Model) for p in BUILTIN_CLASSES)
