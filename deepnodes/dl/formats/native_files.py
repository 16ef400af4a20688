"""Reading the files of a native network (a folder or a .dnn / .zip) as data, bounded and checked. Torch-free.

- Only the entries the format defines are read (`network.json`, `weights.safetensors`, `modules.pt`), never
  more bytes than they declare: the weights' size must be what their own safetensors header says, and what
  `network.json` records; any other entry (or one that would expand like a zip bomb) is refused before it is
  read into memory.
- `network.json` is validated (`Header`): wrong JSON types or missing keys are one sentence naming the file.
- Every weights entry must have a sha256 in `network.json`. DeepNodes has written checksums since the format's
  first version, so a file without them was made by hand or by another tool: it is refused unless the user
  turns trust on.
- `modules.pt` (pickled torch modules) is not even read unless trust is on.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, ValidationError

from deepnodes.core.bounded_zip import ZipRefused, check_zip, one_line, read_entry

FORMAT = "deepnodes.network"
VERSION = 1
HEADER = "network.json"
WEIGHTS = "weights.safetensors"
PICKLES = "modules.pt"
ENTRIES = (HEADER, WEIGHTS, PICKLES)
#: network.json holds the spec and metadata (a Keras config, a text dictionary): large, but not unbounded
HEADER_LIMIT = 256 << 20
#: a safetensors header (tensor names, dtypes, shapes, offsets)
ST_HEADER_LIMIT = 100 << 20


class NetworkFormatError(ValueError):
    """A network file that cannot be read (the message says why, in one sentence)."""


class Header(BaseModel):
    """What `network.json` must hold (extra keys of newer writers are kept)."""

    model_config = ConfigDict(extra="allow")
    format: str
    version: StrictInt
    spec: dict
    metadata: dict = {}
    built: StrictBool = True
    sha256: dict[str, str] = {}
    sizes: dict[str, StrictInt] = {}
    pickled: list[str] = []
    reused_layers: list[str] = []
    factory: dict | None = None
    class_path: str | None = None


def parse_header(raw: bytes, path: Path) -> dict:
    """The validated content of `network.json` (NetworkFormatError with one sentence otherwise)."""
    try:
        head = json.loads(raw)
    except (ValueError, RecursionError):
        raise NetworkFormatError(f"the network.json of {path} is corrupted (not valid JSON)") from None
    if not isinstance(head, dict):
        raise NetworkFormatError(f"the network.json of {path} is not a JSON object")
    if head.get("format") != FORMAT:
        raise NetworkFormatError(f"{path} is not a DeepNodes network (format {_cut(head.get('format'))})")
    v = head.get("version")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise NetworkFormatError(f"the network.json of {path} has no valid format version ({_cut(v)})")
    if v > VERSION:
        raise NetworkFormatError(f"{path} was written by a newer DeepNodes (network format version {v}; this version "
                                 f"reads up to {VERSION}); update DeepNodes to read it")
    try:
        return Header.model_validate(head).model_dump()
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top)"
        raise NetworkFormatError(f"the network.json of {path} is malformed: key '{loc}': {err['msg']}") from None


def parse_spec(head: dict, path: Path):
    """The network spec of a validated header, with each layer's kind and options checked against the catalogue."""
    return spec_from_json(head["spec"], f"the network.json of {path}")


def spec_from_json(d: Any, where: str):
    """A `NetworkSpec` from JSON a file holds (native header, ONNX / TorchScript metadata), every part checked:
    NetworkFormatError "<where> has a malformed spec (...)" otherwise."""
    from ..layers import get_layer
    from ..spec import NetworkSpec

    try:
        if isinstance(d, (str, bytes)):
            d = json.loads(d)
        if not isinstance(d, dict):
            raise ValueError("not a JSON object")
        spec = NetworkSpec.from_json(d)
        for t in (*spec.inputs, *spec.outputs, *(o for layer in spec.layers for o in layer.outputs)):
            if not isinstance(t.name, str) or not all(d is None or (isinstance(d, int) and not isinstance(d, bool))
                                                      for d in t.shape) or not isinstance(t.dtype, str):
                raise ValueError(f"tensor {_cut(t.name)} has a bad name, shape or dtype")
        for layer in spec.layers:
            if not isinstance(layer.name, str) or not isinstance(layer.config, dict) or \
                    not all(isinstance(i, str) for i in layer.inputs):
                raise ValueError(f"layer {_cut(layer.name)} has a bad name, config or inputs")
            get_layer(layer.kind).check_config(layer.config)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as e:
        what = f"missing key {e}" if isinstance(e, KeyError) else str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise NetworkFormatError(f"{where} has a malformed spec ({one_line(what, 200)})") from None
    return spec


def metadata_from_json(text: Any, where: str) -> dict:
    """A network's metadata from JSON text a file holds (NetworkFormatError naming `where` otherwise)."""
    try:
        meta = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        raise NetworkFormatError(f"{where} has damaged metadata (not valid JSON)") from None
    if not isinstance(meta, dict):
        raise NetworkFormatError(f"{where} has damaged metadata (not a JSON object)")
    return meta


def weights_size(prefix: bytes, what: str) -> int:
    """The total size a safetensors blob must have, from its first bytes (8-byte length + JSON header)."""
    if len(prefix) < 8:
        raise NetworkFormatError(f"the weights file {what} is truncated")
    n = int.from_bytes(prefix[:8], "little")
    if n > ST_HEADER_LIMIT or len(prefix) < 8 + n:
        raise NetworkFormatError(f"the weights file {what} is truncated or corrupted (bad header length)")
    try:
        meta = json.loads(prefix[8:8 + n])
        end = max([0] + [int(v["data_offsets"][1]) for k, v in meta.items() if k != "__metadata__"])
    except Exception:  # noqa: BLE001 - any malformed header
        raise NetworkFormatError(f"the weights file {what} is truncated or corrupted (bad header)") from None
    return 8 + n + end


class _Source:
    """Bounded access to the entries of a network folder or zip file."""

    def __init__(self, path: Path):
        self.path = path
        if not path.exists():
            raise NetworkFormatError(f"there is no network at {path}")
        self.zip: zipfile.ZipFile | None = None
        if path.is_dir():
            self.sizes = {p.name: p.stat().st_size for p in path.iterdir() if p.name in ENTRIES and p.is_file()}
            return
        try:
            infos = check_zip(path, "network file")
            self.zip = zipfile.ZipFile(path)
        except ZipRefused as e:
            if "not a zip" in str(e):
                raise NetworkFormatError(f"{path} is not a DeepNodes network (neither a folder nor a network zip "
                                         "file)") from None
            raise NetworkFormatError(str(e)) from None
        except Exception as e:  # noqa: BLE001 - a damaged zip
            raise NetworkFormatError(f"the network file {path} is truncated or corrupted ({one_line(e)})") from None
        self.sizes = {}
        for i in infos:
            if i.filename not in ENTRIES:
                raise NetworkFormatError(f"the network file {path} holds an entry '{one_line(i.filename, 100)}' that the "
                                         "format does not define; refusing to read it")
            self.sizes[i.filename] = i.file_size

    def read(self, name: str, limit: int, start: int | None = None) -> bytes:
        """Entry `name` (at most `limit` bytes; only its first `start` bytes when given)."""
        if self.zip is None:
            p = self.path / name
            if p.is_symlink():
                raise NetworkFormatError(f"the network {self.path} has a symbolic link as its {name}; refusing it")
            with open(p, "rb") as fh:
                data = fh.read((start if start is not None else limit) + 1)
        else:
            try:
                if start is not None:
                    with self.zip.open(name) as fh:
                        return fh.read(start)
                data = read_entry(self.zip, name, limit, "network file", self.path)
            except ZipRefused as e:
                raise NetworkFormatError(str(e)) from None
            except Exception as e:  # noqa: BLE001 - zlib and zip errors of a damaged member
                raise NetworkFormatError(f"the network file {self.path} is truncated or corrupted ({one_line(e)})") \
                    from None
        if start is not None:
            return data[:start]
        if len(data) > limit:
            raise NetworkFormatError(f"the {name} of {self.path} is larger than the {limit} bytes it may hold")
        return data

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def read_header(path: str | Path) -> dict:
    """network.json only (cheap, torch-free): what a reader node needs at configure time."""
    path = Path(path)
    src = _Source(path)
    try:
        if HEADER not in src.sizes:
            raise NetworkFormatError(f"{path} is not a DeepNodes network: it has no network.json")
        return parse_header(src.read(HEADER, HEADER_LIMIT), path)
    finally:
        src.close()


def read_checked(path: str | Path, trust: bool = False) -> tuple[dict, dict[str, bytes]]:
    """(validated header, {entry: bytes}) of a native network, every entry bounded and its checksum verified."""
    path = Path(path)
    src = _Source(path)
    try:
        if HEADER not in src.sizes:
            raise NetworkFormatError(f"{path} is not a DeepNodes network: it has no network.json")
        head = parse_header(src.read(HEADER, HEADER_LIMIT), path)
        files: dict[str, bytes] = {}
        for name in (WEIGHTS, PICKLES):
            if name not in src.sizes:
                if name in head["sha256"]:
                    raise NetworkFormatError(f"the network {path} is incomplete: {name} is missing")
                continue
            if name == PICKLES and not (trust and head["pickled"]):
                continue  # pickles are not even read without trust (load_network says why it needs them)
            if name not in head["sha256"] and not trust:
                raise NetworkFormatError(f"the network {path} has no checksum for its {name}, so it was not written "
                                         "by DeepNodes or was altered; read it only with the trust option")
            size = src.sizes[name]
            want = head["sizes"].get(name)
            if want is not None and size != want:
                raise NetworkFormatError(f"the file {name} of {path} is truncated or corrupted (it holds {size} bytes, "
                                         f"not the {want} its network.json declares)")
            if name == WEIGHTS:
                n = int.from_bytes(src.read(name, size, start=8), "little")
                need = weights_size(src.read(name, size, start=8 + min(n, ST_HEADER_LIMIT)), f"{path}/{name}")
                if size != need:
                    raise NetworkFormatError(f"the weights file {path}/{name} is truncated or corrupted (it holds {size} "
                                             f"bytes, not the {need} its header declares)")
            files[name] = src.read(name, size)
            digest = head["sha256"].get(name)
            if digest is not None and hashlib.sha256(files[name]).hexdigest() != digest:
                raise NetworkFormatError(f"the weights file {name} of {path} is truncated or corrupted (checksum "
                                         "mismatch)")
        return head, files
    finally:
        src.close()


def is_network_folder(path: Path) -> bool:
    """A folder holding exactly a native network's files (nothing a user put there)."""
    try:
        head = read_header(path)
    except (NetworkFormatError, OSError):
        return False
    allowed = {HEADER, *head["sha256"]}
    return all(p.name in allowed and p.is_file() and not p.is_symlink() for p in path.iterdir())


def _cut(v: Any) -> str:
    return one_line(repr(v), 100)
