"""The workspace folder: which files the server may read, write and list.

A path the server touches is taken apart against the real workspace folder: absolute paths, `..` and
symlinks whose target lies outside are refused, for the workflow file and for its `.results` sidecar and
everything inside it, before anything is read or written. Listing never follows a link out and reads only
regular files.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from .session import EditError

MAX_FILE = 4 * 1024 * 1024  # a workflow file larger than this is not listed
MAX_LISTED = 500
SKIP_DIRS = {"node_modules", "__pycache__", ".git", ".venv", "static"}


def inside(full: Path, roots: list[Path]) -> bool:
    """Whether the real path of `full` (every symlink followed) lies in one of `roots` (real paths)."""
    real = Path(os.path.realpath(full))
    return any(real == r or r in real.parents for r in roots)


class Workspace:
    def __init__(self, root: Path):
        self.root = Path(os.path.realpath(root))

    def resolve(self, rel: str, must_exist: bool = False) -> Path:
        """A workflow path inside the workspace; anything outside it (.., absolute, links out) is refused."""
        if not isinstance(rel, str) or not rel.strip():
            raise EditError("a workflow path is needed", status=400)
        if "\x00" in rel or len(rel) > 500:
            raise EditError("the workflow path is not valid", status=400)
        p = Path(rel)
        if p.is_absolute() or ".." in p.parts or p.drive:
            raise EditError(f"the path '{rel[:200]}' is outside the workspace", status=403)
        if not p.name or p.name.strip(". ") == "" or rel.endswith(("/", "\\")):
            raise EditError(f"the path '{rel[:200]}' names a folder, not a workflow file", status=400)
        if p.suffix != ".json":
            p = p.with_name(p.name + ".json")
        full = Path(os.path.realpath(self.root / p))
        if not inside(full, [self.root]) or full == self.root:
            raise EditError(f"the path '{rel[:200]}' is outside the workspace", status=403)
        if must_exist and full.exists() and not full.is_file():
            raise EditError(f"'{rel[:200]}' is not a regular file", status=400)
        if must_exist and not full.is_file():
            raise EditError(f"there is no workflow '{rel[:200]}' in the workspace", status=404)
        return full

    def rel(self, full: Path) -> str:
        return full.relative_to(self.root).as_posix()

    def check_sidecar(self, folder: Path) -> Path:
        """The `.results` folder of a workflow, refused if it or anything in it leads out of the workspace."""
        name = f"'{folder.name}'"
        if not inside(folder, [self.root]):
            raise EditError(f"the results folder {name} is a link that leads out of the workspace; "
                            "remove the link to save here", status=403)
        if folder.is_dir():
            for dirpath, dirnames, filenames in os.walk(folder):
                for n in dirnames + filenames:
                    p = Path(dirpath) / n
                    if p.is_symlink() and not inside(p, [self.root]):
                        raise EditError(f"'{self.rel(p)}' in the results folder {name} is a link that leads out "
                                        "of the workspace; remove it to save here", status=403)
        return folder

    def list(self) -> list[dict]:
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root):  # os.walk does not enter linked folders
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS
                                 and not d.endswith(".results"))
            depth = len(Path(dirpath).relative_to(self.root).parts)
            if depth >= 3:
                dirnames[:] = []
            for f in sorted(filenames):
                if not f.endswith(".json") or f.startswith("."):
                    continue
                full = Path(dirpath) / f
                if not inside(full, [self.root]):
                    continue
                info = workflow_info(full)
                if info is not None:
                    out.append({"path": self.rel(full), **info})
                if len(out) >= MAX_LISTED:
                    return out
        return out


def workflow_info(full: Path) -> dict | None:
    """Name, node count, description, run-time note and outline (for a thumbnail) of a workflow file; None for
    anything else (read bounded)."""
    from .limits import BadJSON, parse_json

    try:
        st = os.stat(full)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE:
            return None  # a device, a FIFO or a huge file is never read
        with open(full, "rb") as f:
            data = parse_json(f.read(MAX_FILE + 1), what=f"'{full.name}'")
    except (OSError, BadJSON):
        return None
    if not isinstance(data, dict) or not str(data.get("format", "")).startswith("deepnodes.workflow/"):
        return None
    nodes = data.get("nodes")
    from .outline import outline

    try:
        sketch = outline(data)
    except Exception:  # noqa: BLE001 - one malformed file never breaks the listing: its card has no picture
        sketch = {"nodes": [], "links": []}
    return {"name": str(data.get("name", full.stem))[:200], "nodes": len(nodes) if isinstance(nodes, list) else 0,
            "description": str(data.get("description", ""))[:2000], "runtime": str(data.get("runtime", ""))[:200],
            "outline": sketch}


def check_file(full: Path) -> None:
    """Refuses a workflow file that is not a regular file or is too large, before it is read."""
    try:
        st = os.stat(full)
    except OSError as e:
        raise EditError(f"'{full.name}' cannot be read: {e.strerror}", status=404) from None
    if not stat.S_ISREG(st.st_mode):
        raise EditError(f"'{full.name}' is not a regular file", status=400)
    if st.st_size > MAX_FILE:
        raise EditError(f"'{full.name}' is larger than {MAX_FILE // 1024} kB", status=413)
