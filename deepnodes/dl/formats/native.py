"""The native network format: a folder (or the same files in one zip file) holding

- `network.json`: format id and version, the spec, the metadata, how to rebuild the module, the weights' sha256;
- `weights.safetensors`: the module's state dict (no pickle);
- `modules.pt`: only for opaque torch modules DeepNodes cannot rebuild from a description, written and read only
  with the explicit trust option `allow_pickle=True`.

A network from layer nodes is rebuilt from its spec; an opaque module (a pretrained CNN, an imported Keras model)
from its `factory`: the registered name of a module factory (`deepnodes.dl.factories`), recorded in the metadata or
in its "module" layer. Reading is bounded and checked (`native_files`); writing goes beside the old network and is
verified before it replaces it (`deepnodes.core.atomic_files`), and a folder that is not a network is never replaced.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

from deepnodes.core.atomic_files import RefusedWrite, replace_dir, replace_file

from ..factories import FactoryError, call_factory, resolve, stable_ref
from .native_files import (FORMAT, VERSION, NetworkFormatError, is_network_folder, parse_spec, read_checked,
                           read_header)

SINGLE_FILE_SUFFIXES = (".dnn", ".zip")
__all__ = ["FORMAT", "VERSION", "NetworkFormatError", "save_network", "load_network", "read_header"]


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
        f = network.metadata.get("factory")
        return [("", network.module, f if isinstance(f, dict) and _registered(f.get("path")) else None)]
    out = []
    m = network.module
    for layer in spec.layers:
        if layer.kind == "module":
            f = layer.config.get("factory")
            out.append((layer.name, m.get_submodule(layer.name),
                        {"path": f, "args": layer.config.get("args", {})} if _registered(f) else None))
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
                if layer.kind == "module" and not _registered(layer.config.get("factory")):
                    pickled[name] = b.reuse[name]
    else:
        files["weights.safetensors"] = _state_bytes(module)
        for name, m, factory in _opaque_entries(network) if _has_opaque(network) else []:
            if factory is None:
                pickled[name] = m
        head["class_path"] = f"{type(module).__module__}:{type(module).__qualname__}"
        f = network.metadata.get("factory")
        if not network.spec.layers and isinstance(f, dict) and _registered(f.get("path")):
            head["factory"] = {**f, "path": stable_ref(f["path"])}
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
    head["sizes"] = {k: len(v) for k, v in files.items()}
    files["network.json"] = json.dumps(head, indent=1, default=str).encode()
    _write(files, path)
    return path


def _write(files: dict[str, bytes], path: Path) -> None:
    """Write beside the old network, verify what is on disk, then switch (see `deepnodes.core.atomic_files`)."""
    def verify(p: Path) -> None:
        read_checked(p, trust=True)

    try:
        if path.suffix in SINGLE_FILE_SUFFIXES:
            def write_zip(tmp: Path) -> None:
                with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
                    for k, v in files.items():
                        z.writestr(k, v)

            replace_file(path, write_zip, verify, owned=_is_network_file, what="DeepNodes network")
        else:
            def write_folder(tmp: Path) -> None:
                for k, v in files.items():
                    (tmp / k).write_bytes(v)

            replace_dir(path, write_folder, owned=is_network_folder, verify=verify, what="DeepNodes network")
    except RefusedWrite as e:
        raise NetworkFormatError(str(e)) from None


def _is_network_file(path: Path) -> bool:
    try:
        read_header(path)
        return True
    except NetworkFormatError:
        return False


def _registered(ref) -> bool:
    try:
        resolve(ref, "")
        return True
    except FactoryError:
        return False


def _has_opaque(network) -> bool:
    return not network.spec.layers or any(layer.kind == "module" for layer in network.spec.layers)


def load_network(path: str | Path, trust: bool = False):
    """Load a network saved by `save_network`. `trust=True` allows unpickling opaque modules (only for files
    from a source you trust)."""
    import torch

    from ..build import LayerBuilder, build_module
    from ..network import Network

    path = Path(path)
    head, files = read_checked(path, trust)
    spec = parse_spec(head, path)
    metadata = head["metadata"]
    pickled = {}
    if head.get("pickled"):
        if not trust:
            raise NetworkFormatError(f"the network {path} contains pickled torch modules ("
                                     + ", ".join(head["pickled"]) + "); loading them runs code from the file, so it "
                                     "needs the trust option")
        if "modules.pt" not in files:
            raise NetworkFormatError(f"the network {path} is incomplete: modules.pt is missing")
        try:  # the user turned trust on for this file: unpickling is what they asked for
            pickled = torch.load(io.BytesIO(files["modules.pt"]), weights_only=False)
        except Exception as e:  # noqa: BLE001
            raise NetworkFormatError(f"the pickled modules of {path} cannot be read ({str(e)[:150]})") from None
    sd = _load_state(files["weights.safetensors"], f"{path}/weights.safetensors") if "weights.safetensors" in files else {}

    if not spec.layers:  # an opaque network
        if "" in pickled:
            module = pickled[""]
        else:
            factory = head.get("factory") or metadata.get("factory")
            if not factory:
                raise NetworkFormatError(f"the network {path} has neither a layer graph nor a factory to rebuild it")
            try:
                module = call_factory(factory, where=f"the network {path}", trust=trust)
            except FactoryError as e:
                raise NetworkFormatError(str(e)) from None
            except (ValueError, TypeError, KeyError) as e:
                raise NetworkFormatError(f"the network {path} cannot be rebuilt by its factory ({e})") from None
        _load_into(module, sd, path)
        return Network(spec, module=module, metadata=metadata)

    reuse = {k: v for k, v in pickled.items() if k}
    try:
        module = build_module(spec, reuse=reuse)
    except FactoryError as e:
        raise NetworkFormatError(f"the network {path}: {e}") from None
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as e:
        raise NetworkFormatError(f"the layers of the network {path} cannot be built ({str(e)[:200]})") from None
    if head.get("built", True):
        _load_into(module, sd, path)
        return Network(spec, module=module, metadata=metadata)
    # an untrained network from layer nodes: restore the modules it reuses, the rest stays to be initialised
    names = head.get("reused_layers", [])
    try:
        missing, unexpected = module.load_state_dict(sd, strict=False)
    except RuntimeError as e:
        raise NetworkFormatError(f"the weights in {path} do not fit the network's layers "
                                 f"({str(e).splitlines()[0][:200]})") from None
    if unexpected:
        raise NetworkFormatError(f"the weights of {path} do not fit its layers (unexpected {unexpected[0]})")
    del missing
    return Network(spec, metadata=metadata, builder=LayerBuilder({n: module.get_submodule(n) for n in names}))


def _load_into(module, sd: dict, path: Path) -> None:
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0][:200]
        raise NetworkFormatError(f"the weights in {path} do not fit the network's layers ({first})") from None
