"""Make component: replace chosen nodes of a workflow by one Component whose inline body holds them.

Every connection across the boundary becomes a port: an outer output feeding chosen nodes becomes one Component
Input (named after the first input it feeds, made unique), a chosen node's output used outside becomes one
Component Output (named after that output). The outer connections are remade to the component's ports, so the
workflow computes what it computed before. A choice that an unchosen node lies between (fed by one chosen node
and feeding another) would make a cycle and is refused in one sentence. The server's `make_component` edit and
the editor's "Make component" use this."""
from __future__ import annotations

from .component import INPUT_TYPE, OUTPUT_TYPE
from .workflow import Workflow, WorkflowError, node_ports
from .workflow_file import short

COMPONENT = "deepnodes.flow.Component"


def _unique(name: str, taken: set[str]) -> str:
    out, k = name, 2
    while out in taken:
        out, k = f"{name}_{k}", k + 1
    taken.add(out)
    return out


def _port_type(wf: Workflow, nid: str, port: str, outputs: bool) -> str:
    ports = node_ports(wf.nodes[nid], wf.folder)[1 if outputs else 0]
    return next(p.type for p in ports if p.name == port)


def make_component(wf: Workflow, node_ids: list[str], new_id: str | None = None, label: str = "") -> str:
    """Replace `node_ids` in `wf` by one Component (id `new_id` or a fresh one); returns its id."""
    chosen = list(dict.fromkeys(node_ids))
    if not chosen:
        raise WorkflowError("choose at least one node to make a component of")
    for nid in chosen:
        wf._node(nid, "make component")
        if wf.nodes[nid].type in (INPUT_TYPE, OUTPUT_TYPE):
            raise WorkflowError(f"node '{short(nid)}' is a {wf.nodes[nid].type.rsplit('.', 1)[-1]}; it belongs to "
                                f"a body already and cannot be put in a new component")
    inside = set(chosen)
    for nid in set(wf.nodes) - inside:  # an outer node between two chosen ones would make a cycle
        up, down = wf.ancestors(nid) & inside, wf.downstream(nid) & inside
        if up and down:
            raise WorkflowError(f"these nodes cannot become one component: '{short(nid)}' lies between them "
                                f"(it is fed by '{sorted(up)[0]}' and feeds '{sorted(down)[0]}'); choose it too")
    conns = list(wf.connections)
    incoming = [c for c in conns if c.target in inside and c.source not in inside]
    outgoing = [c for c in conns if c.source in inside and c.target not in inside]
    inner = [c for c in conns if c.source in inside and c.target in inside]
    body_nodes = [wf.nodes[n].to_json() for n in chosen]
    body_links = [c.to_json() for c in inner]
    ids, in_names, out_names = set(chosen), set(), set()
    in_port: dict[tuple[str, str], str] = {}
    for c in incoming:
        key = (c.source, c.source_port)
        if key not in in_port:
            in_port[key] = _unique(c.target_port, in_names)
            nid = _unique(f"in_{in_port[key]}", ids)
            body_nodes.append({"id": nid, "type": INPUT_TYPE, "label": f"Input {in_port[key]}",
                               "position": [0.0, 0.0],
                               "config": {"name": in_port[key], "type": _port_type(wf, *key, outputs=True)}})
            in_port[key + ("node",)] = nid
        body_links.append({"source": in_port[key + ("node",)], "source_port": "value", "target": c.target,
                           "target_port": c.target_port})
    out_port: dict[tuple[str, str], str] = {}
    for c in outgoing:
        key = (c.source, c.source_port)
        if key in out_port:
            continue
        out_port[key] = _unique(c.source_port, out_names)
        nid = _unique(f"out_{out_port[key]}", ids)
        body_nodes.append({"id": nid, "type": OUTPUT_TYPE, "label": f"Output {out_port[key]}", "position": [0.0, 0.0],
                           "config": {"name": out_port[key], "type": _port_type(wf, *key, outputs=True)}})
        body_links.append({"source": c.source, "source_port": c.source_port, "target": nid, "target_port": "value"})
    xs = [wf.nodes[n].position[0] for n in chosen]
    ys = [wf.nodes[n].position[1] for n in chosen]
    if new_id is not None and new_id in wf.nodes and new_id not in inside:
        raise WorkflowError(f"there is already a node '{short(new_id)}'")
    for nid in chosen:
        wf.remove(nid)
    comp = wf.add(COMPONENT, new_id, {"body": {"nodes": body_nodes, "connections": body_links}},
                  label or "Component", (sum(xs) / len(xs), sum(ys) / len(ys)))
    for c in incoming:
        key = (c.source, c.source_port)
        if not any(k.source == c.source and k.source_port == c.source_port and k.target == comp
                   for k in wf.connections):
            wf.connect(c.source, c.source_port, comp, in_port[key])
    for c in outgoing:
        wf.connect(comp, out_port[(c.source, c.source_port)], c.target, c.target_port)
    return comp
