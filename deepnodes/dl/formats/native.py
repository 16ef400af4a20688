"""The native network format: a folder (or the same files in one zip file) holding

- `network.json`: format id and version, the spec, the metadata, how to rebuild the module, the weights' sha256;
- `weights.safetensors`: the module's state dict (no pickle);
- `modules.pt`: only for opaque torch modules DeepNodes cannot rebuild from a description, written and read only
  with the explicit trust option `allow_pickle=True`.

A network from layer nodes is rebuilt from its spec; an opaque module (a pretrained CNN, an imported Keras model)
from its `factory` ("package.module:function" inside deepnodes, recorded in the metadata or in its "module" layer).
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

FORMAT = "deepnodes.network"
VERSION = 1
SINGLE_FILE_SUFFIXES = (".dnn", ".zip")


class NetworkFormatError(ValueError):
    """A network file that cannot be read (the message says why, in one sentence)."""


def _state_bytes(module) -> bytes:
    from safetensors.torch import save

    sd = module.state_dict()
    seen: dict[int, str] = {}
    tensors = {}
    aliases = {}
    for k, v in sd.items():
        key = (v.data_ptr(), v.dtype, tuple(v.shape), v.stride()) if v.numel() else None
        if key is not None and key in seen:
            aliases[k] = seen[key]
            continue
        if key is not None:
            seen[key] = k
        tensors[k] = v.detach().cpu().contiguous().clone()
    return save(tensors, metadata={"aliases": json.dumps(aliases)})


def _load_state(data: bytes, where: str) -> dict:
    from safetensors.torch import load

    try:
        sd = load(data)
    except Exception as e:  # noqa: BLE001 - safetensors raises several types
        raise NetworkFormatError(f"the weights file {where} is truncated or corrupted ({str(e).splitlines()[0][:120]})") from None
    try:
        n = int.from_bytes(data[:8], "little")
        aliases = json.loads(json.loads(data[8:8 + n]).get("__metadata__", {}).get("aliases", "{}"))
    except Exception:  # noqa: BLE001
        aliases = {}
    for k, target in aliases.items():
        sd[k] = sd[target]
    return sd


def _opaque_entries(network):
    """(layer name, module) of every opaque module in the network that needs a factory or pickling."""
    spec = network.spec
    if not spec.layers:
        return [("", network.module, network.metadata.get("factory"))]
    out = []
    m = network.module
    for layer in spec.layers:
        if layer.kind == "module":
            f = layer.config.get("factory")
            out.append((layer.name, m.get_submodule(layer.name),
                        {"path": f, "args": layer.config.get("args", {})} if f else None))
    return out


def _module_of(network):
    """The module to save, without caching a freshly built one on the network."""
    from ..build import LayerBuilder

    if network.built:
        return network.module, True
    b = network._builder
    if isinstance(b, LayerBuilder):
        return None, False
    return network.module, True


def save_network(network, path: str | Path, allow_pickle: bool = False) -> Path:
    """Save `network` as a folder, or as one zip file when `path` ends with .dnn or .zip."""
    import torch

    from ..build import LayerBuilder

    path = Path(path)
    files: dict[str, bytes] = {}
    module, built = _module_of(network)
    head: dict = {"format": FORMAT, "version": VERSION, "spec": network.spec.to_json(),
                  "metadata": network.metadata, "built": built}
    pickled: dict = {}
    if not built:  # an untrained network from layer nodes: keep only the modules it reuses (pretrained bases)
        b: LayerBuilder = network._builder
        head["reused_layers"] = sorted(b.reuse)
        if b.reuse:
            holder = torch.nn.Module()
            for name, m in b.reuse.items():
                holder.add_module(name, m)
            files["weights.safetensors"] = _state_bytes(holder)
            for name in b.reuse:
                layer = network.spec.layer(name)
                if layer.kind == "module" and not layer.config.get("factory"):
                    pickled[name] = b.reuse[name]
    else:
        files["weights.safetensors"] = _state_bytes(module)
        for name, m, factory in _opaque_entries(network) if _has_opaque(network) else []:
            if factory is None:
                pickled[name] = m
        head["class_path"] = f"{type(module).__module__}:{type(module).__qualname__}"
        if not network.spec.layers:
            head["factory"] = network.metadata.get("factory")
    if pickled:
        if not allow_pickle:
            name, m = next(iter(pickled.items()))
            cls = f"{type(m).__module__}.{type(m).__qualname__}"
            raise NetworkFormatError(
                f"the network holds a torch module of class {cls} that DeepNodes cannot rebuild from a description; "
                "saving it needs pickling, which only the trust option (allow_pickle) permits")
        buf = io.BytesIO()
        torch.save(pickled, buf)
        files["modules.pt"] = buf.getvalue()
        head["pickled"] = sorted(pickled)
    head["sha256"] = {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}
    files["network.json"] = json.dumps(head, indent=1, default=str).encode()
    if path.suffix in SINGLE_FILE_SUFFIXES:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
            for k, v in files.items():
                z.writestr(k, v)
        tmp.replace(path)
    else:
        tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=path.parent if path.parent.exists() else None))
        for k, v in files.items():
            (tmp / k).write_bytes(v)
        if path.exists():
            shutil.rmtree(path)
        tmp.replace(path)
    return path


def _has_opaque(network) -> bool:
    return not network.spec.layers or any(layer.kind == "module" for layer in network.spec.layers)


def _read_files(path: Path) -> dict[str, bytes]:
    if not path.exists():
        raise NetworkFormatError(f"there is no network at {path}")
    if path.is_dir():
        return {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}
    try:
        with zipfile.ZipFile(path) as z:
            return {n: z.read(n) for n in z.namelist()}
    except zipfile.BadZipFile:
        raise NetworkFormatError(f"{path} is not a DeepNodes network (neither a folder nor a network zip file)") from None
    except Exception as e:  # noqa: BLE001 - a damaged zip member
        raise NetworkFormatError(f"the network file {path} is truncated or corrupted ({e})") from None


def read_header(path: str | Path) -> dict:
    """network.json only (cheap, torch-free): what a reader node needs at configure time."""
    path = Path(path)
    if not path.exists():
        raise NetworkFormatError(f"there is no network at {path}")
    if path.is_dir():
        files = {"network.json": (path / "network.json").read_bytes()} if (path / "network.json").exists() else {}
    else:
        try:
            with zipfile.ZipFile(path) as z:
                files = {"network.json": z.read("network.json")} if "network.json" in z.namelist() else {}
        except zipfile.BadZipFile:
            raise NetworkFormatError(f"{path} is not a DeepNodes network (neither a folder nor a network zip file)") from None
    return _header(files, path)


def _header(files: dict[str, bytes], path: Path) -> dict:
    if "network.json" not in files:
        raise NetworkFormatError(f"{path} is not a DeepNodes network: it has no network.json")
    try:
        head = json.loads(files["network.json"])
    except ValueError:
        raise NetworkFormatError(f"the network.json of {path} is corrupted (not valid JSON)") from None
    if head.get("format") != FORMAT:
        raise NetworkFormatError(f"{path} is not a DeepNodes network (format {head.get('format')!r})")
    v = head.get("version")
    if not isinstance(v, int) or v > VERSION:
        raise NetworkFormatError(f"{path} was written by a newer DeepNodes (network format version {v}; this version "
                                 f"reads up to {VERSION}); update DeepNodes to read it")
    return head


def load_network(path: str | Path, trust: bool = False):
    """Load a network saved by `save_network`. `trust=True` allows unpickling opaque modules (only for files
    from a source you trust)."""
    import torch

    from ..build import LayerBuilder, build_module
    from ..network import Network
    from ..spec import NetworkSpec

    path = Path(path)
    files = _read_files(path)
    head = _header(files, path)
    for name, digest in head.get("sha256", {}).items():
        if name not in files:
            raise NetworkFormatError(f"the network {path} is incomplete: {name} is missing")
        if hashlib.sha256(files[name]).hexdigest() != digest:
            raise NetworkFormatError(f"the weights file {name} of {path} is truncated or corrupted (checksum mismatch)")
    spec = NetworkSpec.from_json(head["spec"])
    metadata = head.get("metadata", {})
    pickled = {}
    if head.get("pickled"):
        if not trust:
            raise NetworkFormatError(f"the network {path} contains pickled torch modules ("
                                     + ", ".join(head["pickled"]) + "); loading them runs code from the file, so it "
                                     "needs the trust option")
        pickled = torch.load(io.BytesIO(files["modules.pt"]), weights_only=False)
    sd = _load_state(files["weights.safetensors"], f"{path}/weights.safetensors") if "weights.safetensors" in files else {}

    if not spec.layers:  # an opaque network
        if "" in pickled:
            module = pickled[""]
        else:
            factory = head.get("factory") or metadata.get("factory")
            if not factory:
                raise NetworkFormatError(f"the network {path} has neither a layer graph nor a factory to rebuild it")
            module = _call_factory(factory)
        _load_into(module, sd, path)
        return Network(spec, module=module, metadata=metadata)

    reuse = {k: v for k, v in pickled.items() if k}
    module = build_module(spec, reuse=reuse)
    if head.get("built", True):
        _load_into(module, sd, path)
        return Network(spec, module=module, metadata=metadata)
    # an untrained network from layer nodes: restore the modules it reuses, the rest stays to be initialised
    names = head.get("reused_layers", [])
    missing, unexpected = module.load_state_dict(sd, strict=False)
    if unexpected:
        raise NetworkFormatError(f"the weights of {path} do not fit its layers (unexpected {unexpected[0]})")
    del missing
    return Network(spec, metadata=metadata, builder=LayerBuilder({n: module.get_submodule(n) for n in names}))


def _call_factory(factory: dict):
    import importlib

    from ..layers.module import TRUSTED_FACTORIES

    p = factory.get("path", "")
    mod, _, fn = p.partition(":")
    if not (mod == "deepnodes" or mod.startswith("deepnodes.")) and p not in TRUSTED_FACTORIES:
        raise NetworkFormatError(f"module factory '{p}' is not part of DeepNodes; refusing to call it")
    return getattr(importlib.import_module(mod), fn)(**factory.get("args", {}))


def _load_into(module, sd: dict, path: Path) -> None:
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0][:200]
        raise NetworkFormatError(f"the weights in {path} do not fit the network's layers ({first})") from None
