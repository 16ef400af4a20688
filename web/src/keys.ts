// The editor's keyboard map (KNIME's keys for running: F6 configure, F7 execute, Shift+F7 execute all, F9
// cancel). One table, so the handler and the toolbar's hints cannot disagree. Pure, unit-tested.

export type KeyAction =
  | "undo" | "redo" | "copy" | "paste" | "save" | "deleteSelected" | "escape"
  | "configure" | "executeSelected" | "executeAll" | "cancel" | "selectAll";

interface Binding {
  action: KeyAction;
  key: string; // KeyboardEvent.key, lower case
  mod?: boolean; // Ctrl (Cmd on a Mac)
  shift?: boolean; // undefined: either
  hint: string;
}

export const BINDINGS: Binding[] = [
  { action: "undo", key: "z", mod: true, shift: false, hint: "Ctrl+Z" },
  { action: "redo", key: "z", mod: true, shift: true, hint: "Ctrl+Shift+Z" },
  { action: "redo", key: "y", mod: true, hint: "Ctrl+Y" },
  { action: "copy", key: "c", mod: true, hint: "Ctrl+C" },
  { action: "paste", key: "v", mod: true, hint: "Ctrl+V" },
  { action: "save", key: "s", mod: true, hint: "Ctrl+S" },
  { action: "selectAll", key: "a", mod: true, hint: "Ctrl+A" },
  { action: "deleteSelected", key: "delete", hint: "Del" },
  { action: "deleteSelected", key: "backspace", hint: "Backspace" },
  { action: "escape", key: "escape", hint: "Esc" },
  { action: "configure", key: "f6", hint: "F6" },
  { action: "executeAll", key: "f7", shift: true, hint: "Shift+F7" },
  { action: "executeSelected", key: "f7", shift: false, hint: "F7" },
  { action: "cancel", key: "f9", hint: "F9" },
];

/** Actions that also work while typing in a field or with a dialog open. */
export const ALWAYS: KeyAction[] = ["escape"];

export interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  shiftKey?: boolean;
  altKey?: boolean;
}

export function keyAction(e: KeyLike): KeyAction | null {
  if (e.altKey) return null;
  const k = e.key.toLowerCase();
  const mod = !!(e.ctrlKey || e.metaKey);
  for (const b of BINDINGS) {
    if (b.key !== k || !!b.mod !== mod) continue;
    if (b.shift !== undefined && b.shift !== !!e.shiftKey) continue;
    return b.action;
  }
  return null;
}

/** "Ctrl+Z" for a toolbar title. */
export function hint(action: KeyAction): string {
  return BINDINGS.filter((b) => b.action === action).map((b) => b.hint).join(" / ");
}
