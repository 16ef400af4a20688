// "Make component": the chosen nodes become one Component (the server's `make_component` edit, which builds
// the body and its ports: deepnodes/core/make_component.py). Here: the operation to send, what it does to the
// local graph (the chosen nodes give way to the component), and the operations that undo it.
import type { GEdge, Graph, Op } from "./graph";

export const COMPONENT = "deepnodes.flow.Component";
const BODY_PORTS = new Set(["deepnodes.flow.ComponentInput", "deepnodes.flow.ComponentOutput"]);

export type MakeComponentOp = { op: "make_component"; id: string; nodes: string[] };

/** The operation that makes a component of `selected`, or the sentence saying why it cannot be made. */
export function makeComponentOp(g: Graph, selected: string[]): MakeComponentOp | string {
  const chosen = [...new Set(selected)].filter((id) => g.nodes.some((n) => n.id === id));
  if (!chosen.length) return "select the nodes to make a component of first";
  const port = g.nodes.find((n) => chosen.includes(n.id) && BODY_PORTS.has(n.type));
  if (port) return `'${port.id}' is a body's port and cannot go into a new component`;
  const have = new Set(g.nodes.map((n) => n.id));
  let i = 1;
  while (have.has(`component${i}`)) i++;
  return { op: "make_component", id: `component${i}`, nodes: chosen };
}

/** The local graph after the operation: the chosen nodes and their connections are gone, the component is there
 * (its body and ports arrive with the server's snapshot). */
export function applyMakeComponent(g: Graph, op: MakeComponentOp): Graph {
  const gone = new Set(op.nodes);
  const chosen = g.nodes.filter((n) => gone.has(n.id));
  const x = chosen.reduce((s, n) => s + n.position[0], 0) / Math.max(1, chosen.length);
  const y = chosen.reduce((s, n) => s + n.position[1], 0) / Math.max(1, chosen.length);
  return {
    ...g,
    nodes: [...g.nodes.filter((n) => !gone.has(n.id)), { id: op.id, type: COMPONENT, label: "Component", position: [x, y], config: {} }],
    connections: g.connections.filter((c) => !gone.has(c.source) && !gone.has(c.target)),
  };
}

/** The operations that undo it on the graph it was applied to: the component goes, the nodes and every connection
 * they had come back. */
export function invertMakeComponent(g: Graph, op: MakeComponentOp): Op[] {
  const gone = new Set(op.nodes);
  const edges: GEdge[] = g.connections.filter((c) => gone.has(c.source) || gone.has(c.target));
  return [
    { op: "remove", id: op.id },
    ...g.nodes.filter((n) => gone.has(n.id)).map((n) => ({
      op: "add" as const, id: n.id, type: n.type, label: n.label, position: n.position, config: JSON.parse(JSON.stringify(n.config)),
    })),
    ...edges.map((c) => ({ op: "connect" as const, ...c })),
  ];
}
