// The Deploy panel: whether the open workflow can be served (Service Input/Output connected, the results it
// needs executed and saved) and the commands that serve it, run and save it first, or export it as a bundle.
import { useEffect, useState } from "react";
import { api } from "./api";
import type { DocSnapshot } from "./types";

interface Report {
  ready: boolean;
  checks: { ok: boolean; text: string }[];
  commands: { serve: string; run_first: string; export: string };
}

function Command({ label, text }: { label: string; text: string }) {
  const [copied, setCopied] = useState(false);
  const copy = () => navigator.clipboard?.writeText(text).then(() => setCopied(true), () => setCopied(false));
  return (
    <div className="dn-deploy-cmd">
      <span className="muted">{label}</span>
      <code data-testid={`deploy-${label.split(" ")[0].toLowerCase()}`}>{text}</code>
      <button onClick={copy} title="copy the command">{copied ? "Copied" : "Copy"}</button>
    </div>
  );
}

export function DeployPanel({ doc, onClose }: { doc: DocSnapshot; onClose: () => void }) {
  const [report, setReport] = useState<Report | null>(null);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    api<Report>("GET", `/api/docs/${doc.id}/deploy`).then((r) => { if (live) { setReport(r); setErr(null); } },
      (e) => { if (live) setErr(e.message); });
    return () => { live = false; };
  }, [doc.id, doc.version, doc.dirty, doc.path, JSON.stringify(Object.values(doc.status).map((s: any) => s?.state))]);
  return (
    <div className="dn-modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dn-modal dn-deploy" role="dialog" aria-label="Deploy">
        <header><h2>Deploy “{doc.name}”</h2><span className="muted">as a web service or a bundle</span>
          <span style={{ flex: 1 }} /><button onClick={onClose} aria-label="close">✕</button></header>
        {err && <div className="dn-error" role="alert">{err}</div>}
        {report && (
          <>
            <ul className="dn-deploy-checks" data-testid="deploy-checks">
              {report.checks.map((c, i) => (
                <li key={i} className={c.ok ? "ok" : "bad"}>{c.ok ? "✓" : "✗"} {c.text}</li>
              ))}
            </ul>
            <p data-testid="deploy-ready" className={report.ready ? "ok" : "bad"}>
              {report.ready ? "Ready to serve: run this in a terminal, in the workspace folder."
                : "Not ready yet: fix the items marked ✗ (or let the command run the missing nodes with --run-first)."}
            </p>
            <Command label="Serve" text={report.commands.serve} />
            <Command label="Run and save first" text={report.commands.run_first} />
            <Command label="Export a bundle" text={report.commands.export} />
            <p className="muted">The service answers POST /predict with JSON rows; its request format is at /schema and
              /docs. Off 127.0.0.1 add --token TOKEN.</p>
          </>
        )}
      </div>
    </div>
  );
}
