import { describe, expect, it } from "vitest";
import { bodyDoc, canOpen, crumbs, insideOps } from "./componentView";
import type { DocSnapshot } from "./types";

const inner = { nodes: [{ id: "in", type: "deepnodes.flow.ComponentInput", label: "In", position: [0, 0], config: { name: "table" } },
  { id: "deep", type: "deepnodes.flow.Component", label: "Deep", position: [100, 0], config: { body: { nodes: [{ id: "x", type: "t", label: "", position: [1, 2], config: {} }], connections: [] } } }],
connections: [{ source: "in", source_port: "value", target: "deep", target_port: "table" }] };
const doc: DocSnapshot = {
  id: "d1", name: "w", path: null, example: null, version: 1, dirty: false, running: false,
  workflow: { name: "main", nodes: [{ id: "comp", type: "deepnodes.flow.Component", label: "My part", position: [0, 0], config: { body: inner } },
    { id: "file", type: "deepnodes.flow.Component", label: "F", position: [0, 0], config: { body_file: "b.json" } }], connections: [] },
  status: { comp: { state: "executed" } as any },
};

describe("component view", () => {
  it("shows a body, a body inside a body, and nothing for a file body or a path that is gone", () => {
    expect(bodyDoc(doc, [])).toBe(doc);
    const one = bodyDoc(doc, ["comp"])!;
    expect(one.workflow.nodes.map((n) => n.id)).toEqual(["in", "deep"]);
    expect(one.workflow.connections).toHaveLength(1);
    expect(Object.values(one.status).map((x) => x.state)).toEqual(["executed", "executed"]);
    expect(bodyDoc(doc, ["comp", "deep"])!.workflow.nodes.map((n) => n.id)).toEqual(["x"]);
    expect(bodyDoc(doc, ["file"])).toBeNull();
    expect(bodyDoc(doc, ["comp", "nope"])).toBeNull();
    expect(canOpen(doc.workflow.nodes[0])).toBe(true);
    expect(canOpen(doc.workflow.nodes[1])).toBe(false);
  });

  it("sends edits into the opened body and names the way back", () => {
    expect(insideOps([{ op: "remove", id: "x" }], ["comp", "deep"])).toEqual([{ op: "remove", id: "x", in: "comp/deep" }]);
    expect(insideOps([{ op: "remove", id: "x" }], [])).toEqual([{ op: "remove", id: "x" }]);
    expect(crumbs(doc, ["comp", "deep"])).toEqual([{ label: "main", depth: 0 }, { label: "My part", depth: 1 }, { label: "Deep", depth: 2 }]);
  });
});
