"""A workflow's outline for the start page's thumbnails: node positions, their family and the links, read
from the file's data without building the workflow (a broken file still gets its card)."""
from __future__ import annotations

from typing import Any

MAX_NODES = 300


def outline(data: dict) -> dict:
    """{"nodes": [[x, y, family], ...], "links": [[i, j], ...]}: family is the type's package
    ("data", "layers", "dl", ...); i and j index into nodes. Entries that are not well-formed are left out."""
    nodes: list[list[Any]] = []
    index: dict[str, int] = {}
    raw_nodes, raw_links = data.get("nodes"), data.get("connections")
    for n in raw_nodes if isinstance(raw_nodes, list) else []:
        if len(nodes) >= MAX_NODES:
            break
        if not isinstance(n, dict) or not isinstance(n.get("id"), str) or not isinstance(n.get("type"), str):
            continue
        pos = n.get("position")
        if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                                  and abs(v) < 1e7 for v in pos)):
            pos = [0, 0]
        parts = n["type"].split(".")
        index[n["id"]] = len(nodes)
        nodes.append([float(pos[0]), float(pos[1]), parts[1][:20] if len(parts) > 2 else "other"])
    links = []
    for c in raw_links if isinstance(raw_links, list) else []:
        if not isinstance(c, dict) or not isinstance(c.get("source"), str) or not isinstance(c.get("target"), str):
            continue
        if c["source"] in index and c["target"] in index:
            links.append([index[c["source"]], index[c["target"]]])
    return {"nodes": nodes, "links": links[:4 * MAX_NODES]}
