import { describe, expect, it } from "vitest";
import { applyOps, Graph, History } from "./graph";
import { applyMakeComponent, invertMakeComponent, makeComponentOp } from "./makeComponent";

function base(): Graph {
  return applyOps({ name: "g", nodes: [], connections: [] }, [
    { op: "add", id: "r", type: "t.Reader", label: "Reader", position: [0, 0], config: { path: "a.csv" } },
    { op: "add", id: "f", type: "t.Filter", label: "Filter", position: [200, 0], config: { min: 1 } },
    { op: "add", id: "s", type: "t.Filter", label: "Sample", position: [400, 100], config: {} },
    { op: "add", id: "w", type: "t.Writer", label: "Writer", position: [600, 0], config: {} },
    { op: "connect", source: "r", source_port: "table", target: "f", target_port: "table" },
    { op: "connect", source: "f", source_port: "table", target: "s", target_port: "table" },
    { op: "connect", source: "s", source_port: "table", target: "w", target_port: "table" },
  ]);
}

describe("make component", () => {
  it("sends the chosen nodes and a fresh component id", () => {
    const g = base();
    expect(makeComponentOp(g, ["f", "s", "f", "gone"])).toEqual({ op: "make_component", id: "component1", nodes: ["f", "s"] });
    expect(makeComponentOp(g, [])).toBe("select the nodes to make a component of first");
    const withPort = applyOps(g, [{ op: "add", id: "in", type: "deepnodes.flow.ComponentInput", label: "", position: [0, 0], config: {} }]);
    expect(makeComponentOp(withPort, ["in"])).toMatch(/'in' is a body's port/);
  });

  it("replaces the nodes locally and undoes back to the very same graph", () => {
    const g = base();
    const op = makeComponentOp(g, ["f", "s"]);
    if (typeof op === "string") throw new Error(op);
    const after = applyMakeComponent(g, op);
    expect(after.nodes.map((n) => n.id)).toEqual(["r", "w", "component1"]);
    expect(after.nodes[2].position).toEqual([300, 50]);
    expect(after.connections).toEqual([]);
    const undone = applyOps(after, invertMakeComponent(g, op));
    const key = (x: Graph) => JSON.stringify({ n: [...x.nodes].sort((a, b) => a.id.localeCompare(b.id)), c: [...x.connections].sort((a, b) => (a.source + a.target).localeCompare(b.source + b.target)) });
    expect(key(undone)).toBe(key(g));
    const h = new History();
    h.record(g, [op]);
    expect(h.undo()).toEqual(invertMakeComponent(g, op));
  });
});
