"""Saved results: a results folder beside a workflow, written as a transaction.

    WORKFLOW.results/
      results.json               the index: which generation is current, per node its cache key and files
      gen-<time>-<random>/       one generation: a folder per node with its output files
        .deepnodes-generation    marks a folder DeepNodes wrote (only such folders are ever removed)

A save writes a *new* generation beside the current one (a saved table may be memory-mapped by this or
another process, so no file that was ever published is written again), fsyncs it, switches `results.json`
atomically (temp file + `os.replace` + fsync of the folder), and only then removes older generations.
A kill at any moment leaves either the old index with its intact generation or the new one.

Reading is bounded and checked before anything else is opened: `results.json` is data from disk, so every
file name in it must stay inside the results folder (no absolute path, no `..`, no symlink leading out);
otherwise the whole index is refused with a `ResultsError` sentence and nothing is read.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .ports import PORT_TYPES

from .atomic_files import fsync_path, fsync_tree, replace_file
from .workflow import WorkflowError

RESULTS_FORMAT = "deepnodes.results/2"
LEGACY_FORMAT = "deepnodes.results/1"  # flat files beside results.json; read, never written
INDEX = "results.json"
MARKER = ".deepnodes-generation"
GEN_RE = re.compile(r"^gen-[0-9]{10,}-[0-9a-f]{8}$")
MAX_INDEX_BYTES = 32 * 1024 * 1024


class ResultsError(WorkflowError):
    """A results folder that cannot be used as it is (one sentence naming the folder and the problem)."""


@dataclass
class Index:
    """A checked `results.json`: per node its entry; `base` is the folder its file names are relative to."""

    folder: Path
    base: Path
    nodes: dict[str, dict] = field(default_factory=dict)
    generation: str | None = None


# --------------------------------------------------------------------------- reading
def read_index(folder: str | Path) -> Index | None:
    """The checked index of a results folder; None when there is none. Raises `ResultsError`."""
    folder = Path(folder)
    f = folder / INDEX
    if not f.exists() and not f.is_symlink():
        return None
    if f.is_symlink() or not f.is_file():
        raise ResultsError(f"'{f}' is not a plain file; the saved results are not reopened")
    with open(f, "rb") as fh:
        raw = fh.read(MAX_INDEX_BYTES + 1)
    if len(raw) > MAX_INDEX_BYTES:
        raise ResultsError(f"'{f}' is larger than {MAX_INDEX_BYTES // 2**20} MiB; the saved results are not reopened")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ResultsError(f"'{f}' is not valid JSON; the saved results are not reopened") from None
    if not isinstance(data, dict) or data.get("format") not in (RESULTS_FORMAT, LEGACY_FORMAT):
        raise ResultsError(f"'{f}' is not a DeepNodes results index (format {RESULTS_FORMAT!r})")
    root = folder.resolve()
    base, gen = root, None
    if data["format"] == RESULTS_FORMAT:
        gen = data.get("generation")
        if not isinstance(gen, str) or not GEN_RE.match(gen):
            raise ResultsError(f"'{f}' names the generation {_cut(gen)}, which is not a results generation folder")
        base = _inside(root, gen, f)
    nodes = data.get("nodes", {})
    if not isinstance(nodes, dict):
        raise ResultsError(f"'{f}': 'nodes' must be an object of node ids")
    checked: dict[str, dict] = {}
    for nid, e in nodes.items():
        if not isinstance(e, dict) or not isinstance(e.get("key"), str) or not isinstance(e.get("outputs", {}), dict):
            raise ResultsError(f"'{f}': the entry of node {_cut(nid)} must hold a 'key' text and an 'outputs' object")
        for port, name in e.get("outputs", {}).items():
            if not isinstance(name, str):
                raise ResultsError(f"'{f}': output {_cut(port)} of node {_cut(nid)} must name a file")
            _inside(base, name, f)
        scalars = e.get("scalars", {})
        seconds = e.get("seconds")
        checked[nid] = {"key": e["key"], "outputs": dict(e.get("outputs", {})),
                        "scalars": scalars if isinstance(scalars, dict) else {},
                        "seconds": seconds if isinstance(seconds, (int, float)) else None,
                        "partial": e.get("partial") is True}
    return Index(folder, base, checked, gen)


def _inside(base: Path, name: str, index_file: Path) -> Path:
    """`base / name`, refused unless it stays inside `base` (no absolute path, `..`, or symlink leading out)."""
    parts = name.replace("\\", "/").split("/")
    bad = (not name or "\x00" in name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name)
           or any(p in ("", ".", "..") for p in parts))
    if not bad:
        p = base / name
        try:
            p.resolve().relative_to(base)
        except (ValueError, OSError, RuntimeError):
            bad = True
    if bad:
        raise ResultsError(f"'{index_file}' names the file {_cut(name)}, which is not inside the results folder; "
                           "the saved results are not reopened")
    return p


def _cut(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 200 else s[:197] + "..."


# --------------------------------------------------------------------------- writing
@dataclass
class NodeSave:
    """What to save for one node: either objects to write, or files of a previous generation to carry over."""

    node: str
    entry: dict  # key, scalars, seconds, partial
    write: list[tuple[str, Callable[[str], str]]] = field(default_factory=list)  # (port, save(path stem) -> name)
    carry: dict[str, Path] | None = None  # port -> existing file or folder


def write_results(folder: str | Path, saves: list[NodeSave]) -> tuple[Path, dict[str, str]]:
    """Write a new generation with `saves`, switch the index to it, remove older generations.

    Returns the folder and, per node whose results could not be saved, a warning (every other node is saved)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    warnings: dict[str, str] = {}
    with _locked(folder):
        old = _previous(folder)
        gen = f"gen-{time.time_ns()}-{secrets.token_hex(4)}"
        gdir = folder / gen
        gdir.mkdir()
        (gdir / MARKER).write_text("written by DeepNodes; removed when a newer generation is saved\n")
        index: dict[str, Any] = {"format": RESULTS_FORMAT, "generation": gen, "nodes": {}}
        used: set[str] = set()
        for s in saves:
            sub = _unique(_safe(s.node), used)
            ndir = gdir / sub
            ndir.mkdir()
            try:
                files = _save_node(s, ndir)
            except Exception as e:  # noqa: BLE001 - one unsaveable object costs only its own node
                shutil.rmtree(ndir, ignore_errors=True)
                warnings[s.node] = f"the results of node '{s.node}' are not saved: {_reason(e)}"
                continue
            index["nodes"][s.node] = {**s.entry, "outputs": {p: f"{sub}/{n}" for p, n in files.items()}}
        fsync_tree(gdir)
        fsync_path(folder)
        text = json.dumps(index, indent=2, sort_keys=True)
        replace_file(folder / INDEX, lambda tmp: tmp.write_text(text, encoding="utf-8"))  # temp, fsync, os.replace
        _remove_old(folder, keep=gen, legacy=old)
    return folder, warnings


def _save_node(s: NodeSave, ndir: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    if s.carry is not None:
        try:
            for port, src in s.carry.items():
                dst = ndir / src.name
                if src.is_dir():
                    shutil.copytree(src, dst, copy_function=_link_or_copy)
                else:
                    _link_or_copy(src, dst)
                files[port] = src.name
            return files
        except OSError:
            if not s.write:  # nothing in memory to write instead
                raise
            shutil.rmtree(ndir)  # the previous files went away (another writer): write from memory
            ndir.mkdir()
            files = {}
    for port, save in s.write:
        name = save(str(ndir / _safe(port)))
        _inside(ndir.resolve(), name, ndir)  # a handler returns a name next to the stem it was given
        files[port] = name
    return files


def _link_or_copy(src, dst) -> None:
    """A hard link shares the file without writing it (safe even while it is memory-mapped); else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _reason(e: BaseException) -> str:
    msg = str(e.args[0]) if e.args and isinstance(e.args[0], str) else str(e)
    return (msg or type(e).__name__)[:300]


def _safe(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".")
    return s[:80] or "_"


def _unique(name: str, used: set[str]) -> str:
    out, i = name, 2
    while out.lower() in used:
        out, i = f"{name}-{i}", i + 1
    used.add(out.lower())
    return out


def _previous(folder: Path) -> list[Path]:
    """Files of a legacy (flat) index that DeepNodes wrote: removed once the new index is in place."""
    try:
        idx = read_index(folder)
    except ResultsError:
        return []
    if idx is None or idx.generation is not None:
        return []
    out = []
    for nid, e in idx.nodes.items():
        for port, name in e["outputs"].items():
            p = folder / name
            # only names the old writer made (NODE.PORT.ext): an index is data and may name a user's file
            if name.startswith(f"{nid}.{port}.") and "/" not in name and "\\" not in name and not p.is_symlink() \
                    and p.exists():
                out.append(p)
    return out


def _remove_old(folder: Path, keep: str, legacy: list[Path]) -> None:
    for d in folder.iterdir():
        if d.name == keep or not GEN_RE.match(d.name) or d.is_symlink() or not d.is_dir():
            continue
        if (d / MARKER).is_file() or not any(d.iterdir()):  # empty: a kill came before the marker or after
            _remove_generation(d)
    for p in legacy:
        try:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        except OSError:
            pass


def _remove_generation(d: Path) -> None:
    """Remove a generation folder, its marker last (so a kill leaves it marked, or empty)."""
    try:
        for child in d.iterdir():
            if child.name != MARKER:
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        (d / MARKER).unlink(missing_ok=True)
        d.rmdir()
    except OSError:  # another process is removing it too, or a file is locked: the next save tries again
        pass


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One writer at a time per results folder (the editor's server and a CLI run may share one)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(folder / ".lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# --------------------------------------------------------------------------- the engine's part
class SavedResults:
    """The `Engine` methods that save and reopen results (mixed into `Engine`)."""

    status: dict
    workflow: Any
    _saved: dict[str, dict]
    _index: Index | None

    def save_results(self, folder: str | Path) -> Path:
        """Save every executed (or partial) node's outputs as a new generation of `folder` (see `results.py`).

        A node whose outputs cannot be saved is left out with a warning (in `save_warnings` and as a log
        event); every other node is saved."""
        folder = Path(folder)
        saves: list[NodeSave] = []
        for nid, st in self.status.items():
            if st.outputs is None or not (st.state == "executed" or st.partial):
                continue
            node = self.workflow.instantiate(nid)
            entry = {"key": st.key, "scalars": st.scalars, "seconds": st.seconds, "partial": st.partial}
            write = [(p.name, _saver(p.type, o)) for p, o in zip(node.outputs, st.outputs) if o is not None]
            carry = st.saved[1] if st.saved is not None and st.saved[0] is st.outputs else None
            saves.append(NodeSave(nid, entry, write, carry))
        # keep saved entries of nodes that were not reopened in this session
        if self._index is not None and _same_dir(self._index.folder, folder):
            done = {s.node for s in saves}
            for nid, e in self._saved.items():
                if nid not in done and nid in self.workflow.nodes:
                    carry = {p: self._index.base / name for p, name in e["outputs"].items()}
                    saves.append(NodeSave(nid, {k: e[k] for k in ("key", "scalars", "seconds", "partial")}, [], carry))
        _, warned = write_results(folder, saves)
        self.save_warnings = list(warned.values())
        for nid, w in warned.items():
            self.emit({"type": "log", "node": nid, "level": "warning", "line": w})
        self.load_index(folder)  # the files of the new generation are what later saves carry over
        self.flush()
        return folder

    def load_results(self, folder: str | Path) -> int:
        """Read a results folder; outputs are restored for nodes whose cache key still matches. Returns how many.

        A results folder that cannot be used is not reopened: `results_warning` says why (also a log event)."""
        if not self.load_index(folder):
            self.flush()
            return 0
        self.configure()
        return sum(1 for n, st in self.status.items() if st.state == "executed")

    def load_index(self, folder: str | Path) -> bool:
        self.results_warning = ""
        try:
            idx = read_index(folder)
        except ResultsError as e:
            self.results_warning = str(e)
            self.emit({"type": "log", "node": None, "level": "warning", "line": str(e)})
            return False
        if idx is None:
            return False
        self._index, self._saved = idx, idx.nodes
        for nid, st in self.status.items():  # outputs reopened from files that were just carried over
            e = idx.nodes.get(nid)
            if st.saved is not None and st.saved[0] is st.outputs and e is not None and e["key"] == st.key:
                st.saved = (st.outputs, {p: idx.base / n for p, n in e["outputs"].items()})
        return True

    def _restore(self, nid: str, st: Any) -> None:
        e = self._saved[nid]
        node = self.workflow.instantiate(nid)
        outs, files = [], {}
        try:
            for p in node.outputs:
                name = e["outputs"].get(p.name)
                if name:
                    files[p.name] = self._index.base / name
                outs.append(PORT_TYPES[p.type].io.load(str(files[p.name])) if name else None)
        except Exception as ex:  # noqa: BLE001 - a damaged results file means re-running, not failing
            self.emit({"type": "log", "node": nid, "level": "warning", "line": f"saved results not reopened: {ex}"})
            return
        st.outputs, st.scalars, st.seconds, st.partial = outs, e.get("scalars", {}), e.get("seconds"), e["partial"]
        st.saved = (st.outputs, files)


def _saver(port_type: str, obj: Any) -> Callable[[str], str]:
    return lambda path: PORT_TYPES[port_type].io.save(obj, path)


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


__all__ = ["Index", "NodeSave", "RESULTS_FORMAT", "ResultsError", "SavedResults", "read_index", "write_results"]
