import { describe, expect, it } from "vitest";
import { BINDINGS, hint, keyAction } from "./keys";

describe("keyboard map", () => {
  it("has KNIME's run keys", () => {
    expect(keyAction({ key: "F6" })).toBe("configure");
    expect(keyAction({ key: "F7" })).toBe("executeSelected");
    expect(keyAction({ key: "F7", shiftKey: true })).toBe("executeAll");
    expect(keyAction({ key: "F9" })).toBe("cancel");
    expect(keyAction({ key: "a", ctrlKey: true })).toBe("selectAll");
    expect(keyAction({ key: "A", metaKey: true, shiftKey: true })).toBe("selectAll");
    expect(keyAction({ key: "Escape" })).toBe("escape");
  });

  it("tells undo from redo by Shift and ignores plain letters and Alt chords", () => {
    expect(keyAction({ key: "z", ctrlKey: true })).toBe("undo");
    expect(keyAction({ key: "Z", ctrlKey: true, shiftKey: true })).toBe("redo");
    expect(keyAction({ key: "a" })).toBeNull();
    expect(keyAction({ key: "F6", altKey: true })).toBeNull();
  });

  it("maps every binding back to its own action, each chord to one action", () => {
    for (const b of BINDINGS) {
      const e = { key: b.key, ctrlKey: !!b.mod, shiftKey: !!b.shift };
      expect(keyAction(e)).toBe(b.action);
    }
    const chords = BINDINGS.map((b) => `${b.key}|${!!b.mod}|${b.shift}`);
    expect(new Set(chords).size).toBe(chords.length);
    expect(hint("redo")).toBe("Ctrl+Shift+Z / Ctrl+Y");
  });
});
