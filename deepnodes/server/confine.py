"""Node options that name files or folders, and keeping them inside the workspace when the server runs them.

An option is a path option when its schema says so (`json_schema_extra={"x-path": "file" | "folder" | "glob"}`)
or, without an annotation, when its name is `path`, `file`, `folder`, `directory` or ends in `_path`, `_file`,
`_folder`, `_dir` (`"x-path": False` opts a field out). Found from the config class, so a new reader or writer is
covered without a list to keep up to date.

`PathPolicy.check` resolves a value the way the node will (`~` expanded, relative to the current folder), follows
every symlink, and refuses it unless it lies in the workspace or in a folder given with `--allow-path`. A folder
or a glob is also checked for links inside it that lead out, since the node reads what they point to.
"""
from __future__ import annotations

import glob
import re
import urllib.parse
import os
from pathlib import Path
from typing import Any

from deepnodes.core.component import load_body

from .workspace import inside

MAX_BODY_DEPTH = 8  # bodies inside bodies checked this deep (a deeper one is refused)

PATH_NAMES = {"path", "file", "folder", "directory"}
PATH_SUFFIXES = ("_path", "_file", "_folder", "_dir")
GLOB_CHARS = set("*?[")
MAX_SCANNED = 100_000  # entries looked at inside one folder or glob


def path_options(cls) -> dict[str, str]:
    """{option: kind} for the config fields of a node class that hold file or folder paths; a field of a nested
    option group (the Learner's `distributed.checkpoint_folder`) by its dotted name."""
    return _path_fields(cls.Config)


def _path_fields(model, prefix: str = "", depth: int = 0) -> dict[str, str]:
    from pydantic import BaseModel

    out = {}
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        mark = extra.get("x-path")
        if mark is False:
            continue
        if mark or name in PATH_NAMES or name.endswith(PATH_SUFFIXES):
            out[prefix + name] = str(mark) if isinstance(mark, str) else "path"
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel) and depth < 4:
            out.update(_path_fields(field.annotation, f"{prefix}{name}.", depth + 1))
    return out


def _option_value(config: dict, option: str) -> Any:
    """The value of a (dotted) option in a stored config, which leaves defaults out."""
    cur: Any = config
    for k in option.split("."):
        cur = cur.get(k) if isinstance(cur, dict) else None
    return cur


def _uri_file(value: str) -> str | None:
    """The local path a URI option writes to (`sqlite:///x.db`, `file:///x`, or a plain folder), None for a
    server's address."""
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+):(.*)$", value)
    if m is None or len(m.group(1)) == 1:  # no scheme (a Windows drive letter is no scheme either)
        return value
    scheme, rest = m.group(1).lower(), m.group(2)
    if scheme == "sqlite" or scheme.startswith("sqlite+"):  # sqlite:///rel.db, sqlite:////abs.db
        return urllib.parse.unquote(rest[3:] if rest.startswith("///") else rest.lstrip("/")) or None
    if scheme == "file":  # file:///abs, file:/abs
        return urllib.parse.unquote(rest[2:] if rest.startswith("//") else rest) or None
    return None


def _real(path: str) -> str:
    """Where a path leads (for the message), or the path itself when that cannot be said."""
    try:
        return os.path.realpath(Path(path).expanduser())
    except (OSError, ValueError, RuntimeError):
        return path


def _values(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v] if v.strip() else []
    if isinstance(v, (list, tuple)):
        return [x for x in v if isinstance(x, str) and x.strip()]
    return []


class PathPolicy:
    """Where node path options may point: the workspace and the folders given with `--allow-path`."""

    def __init__(self, workspace: Path, allowed: list[str | Path] | None = None):
        self.workspace = Path(os.path.realpath(workspace))
        self.roots = [self.workspace] + [Path(os.path.realpath(Path(a).expanduser())) for a in allowed or []]

    def describe(self) -> str:
        extra = [str(r) for r in self.roots[1:]]
        return f"the workspace '{self.workspace}'" + (f" or {', '.join(repr(e) for e in extra)}" if extra else "")

    def check(self, cls, config: dict, folder: Path | None = None, depth: int = 0) -> str | None:
        """The sentence that refuses one of the node's path options (the engine names the node), or None.
        `folder`: the workflow's folder, where a relative body file is read from. A node holding a body (a
        component, a loop) has its body's nodes checked too, as they will run (exposed options applied)."""
        for option, kind in path_options(cls).items():
            for value in _values(_option_value(config, option)):
                if kind == "uri" and (value := _uri_file(value)) is None:
                    continue  # a server's address (http://..., databricks), not a file here
                if option == "body_file" and folder is not None and not Path(value).expanduser().is_absolute():
                    value = str(folder / value)  # read from the workflow's folder (core/component.py)
                try:
                    bad = self._outside(value)
                except (OSError, ValueError, RuntimeError) as e:  # e.g. '~nobody/x': no such home folder
                    return f"option '{option}': '{value[:200]}' cannot be checked ({str(e)[:200]}), so it is not used"
                if bad is not None:
                    shown = value if len(value) <= 200 else value[:200] + "..."
                    real = _real(bad)
                    where = "" if real == bad else f" (that is '{real[:200]}')"
                    return (f"option '{option}': '{shown}'{where} is outside {self.describe()}; "
                            f"start `deepnodes serve --allow-path DIR` to allow another folder")
        if "body" in cls.Config.model_fields:
            if depth >= MAX_BODY_DEPTH:
                return f"its bodies are nested more than {MAX_BODY_DEPTH} deep, so their file options are not checked"
            return self._check_body(config, folder, depth)
        return None

    def _check_body(self, config: dict, folder: Path | None, depth: int) -> str | None:
        from deepnodes.core import NodeError, registry
        from deepnodes.core.workflow_file import relative_to

        with relative_to(folder):
            try:
                body = load_body(config, "body")
            except NodeError:
                return None  # a body that does not load: the node shows why and runs nothing
        for nid, entry in body.workflow.nodes.items():
            try:
                inner = registry.get(entry.type)
            except KeyError:
                continue
            msg = self.check(inner, entry.config, body.workflow.folder, depth + 1)
            if msg is None:
                msg = self._search_values(config, nid, inner)
            if msg:
                return f"inside its body, node '{nid}': {msg}"
        return None

    def _search_values(self, config: dict, nid: str, inner) -> str | None:
        """A search's values for an inner path option (`space.p.choices`) are checked like the option itself."""
        for name, param in (config.get("space") or {}).items():
            node, _, option = str((param or {}).get("option", "")).partition(".")
            if node == nid and option in path_options(inner):
                for value in _values(list((param or {}).get("choices") or [])):
                    if self._outside(value) is not None:
                        return (f"search parameter '{name}' would set option '{option}' to '{value[:200]}', which "
                                f"is outside {self.describe()}")
        return None

    def _outside(self, value: str) -> str | None:
        """The first path (the value itself or a link inside it) that leads outside the allowed roots."""
        if "\x00" in value:
            return value
        p = Path(value).expanduser()
        parts = p.parts
        wild = next((i for i, part in enumerate(parts) if GLOB_CHARS & set(part)), None)
        if wild is not None:
            if ".." in parts[wild:]:
                return value
            base = Path(*parts[:wild]) if wild else Path(".")
            if not inside(base, self.roots):
                return value
            for n, match in enumerate(glob.iglob(str(p), recursive="**" in parts)):
                if n >= MAX_SCANNED:
                    break
                if not inside(Path(match), self.roots):
                    return match
                bad = self._links_out(Path(match))
                if bad:
                    return bad
            return None
        if not inside(p, self.roots):
            return value
        return self._links_out(p)

    def _links_out(self, folder: Path) -> str | None:
        """A symlink inside `folder` that leads out (scandir: no extra system call per plain entry)."""
        if not folder.is_dir():
            return None
        seen, stack = 0, [str(folder)]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                seen += 1
                if entry.is_symlink():
                    if not inside(Path(entry.path), self.roots):
                        return entry.path
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                if seen >= MAX_SCANNED:
                    return None
        return None
