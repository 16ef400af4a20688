// Where the canvas is: the workflow, or the body of an opened component (each step goes back to that level).
import type { DocSnapshot } from "./types";
import { crumbs } from "./componentView";

export function ComponentBreadcrumb({ doc, path, onGo }: { doc: DocSnapshot; path: string[]; onGo: (depth: number) => void }) {
  if (!path.length) return null;
  const steps = crumbs(doc, path);
  return (
    <nav className="dn-breadcrumb" aria-label="where the canvas is" data-testid="breadcrumb">
      {steps.map((s, i) => (
        <span key={s.depth}>
          {i > 0 && <span className="sep"> › </span>}
          {i < steps.length - 1
            ? <button onClick={() => onGo(s.depth)} data-testid={`crumb-${s.depth}`} title="back to this level">{s.label}</button>
            : <strong>{s.label}</strong>}
        </span>
      ))}
      <span className="muted"> — editing the component's body; its changes are saved with the workflow</span>
    </nav>
  );
}
