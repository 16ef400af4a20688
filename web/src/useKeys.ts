// The editor's keyboard keys (not while typing in a field or while a dialog is open).
import { useEffect } from "react";

export interface KeyActions {
  undo: () => void;
  redo: () => void;
  copy: () => void;
  paste: () => void;
  save: () => void;
  deleteSelected: () => void;
  escape: () => void;
}

export function useKeys(a: KeyActions, blocked: boolean) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
      if (blocked) return;
      const mod = e.ctrlKey || e.metaKey;
      const k = e.key.toLowerCase();
      if (mod && k === "z" && !e.shiftKey) { e.preventDefault(); a.undo(); }
      else if (mod && (k === "y" || (k === "z" && e.shiftKey))) { e.preventDefault(); a.redo(); }
      else if (mod && k === "c") { a.copy(); }
      else if (mod && k === "v") { e.preventDefault(); a.paste(); }
      else if (mod && k === "s") { e.preventDefault(); a.save(); }
      else if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); a.deleteSelected(); }
      else if (e.key === "Escape") { a.escape(); }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [a, blocked]);
}
