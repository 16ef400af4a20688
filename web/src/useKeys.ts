// The editor's keyboard keys (keys.ts): none but Escape while typing in a field or while a dialog is open.
import { useEffect } from "react";
import { ALWAYS, type KeyAction, keyAction } from "./keys";

export type KeyActions = Record<KeyAction, () => void>;

export function useKeys(a: KeyActions, blocked: boolean) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const action = keyAction(e);
      if (!action) return;
      const t = e.target as HTMLElement;
      const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
      if ((typing || blocked) && !ALWAYS.includes(action)) return;
      if (action !== "copy") e.preventDefault();
      a[action]();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [a, blocked]);
}
