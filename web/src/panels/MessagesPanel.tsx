import { memo } from "react";
import type { DocSnapshot, LogLine } from "../types";

/** Failed nodes, unconfigured nodes with their reason, and log lines. */
export const MessagesPanel = memo(function MessagesPanel({ doc, logs, open, onToggle, onShow }: { doc: DocSnapshot; logs: LogLine[]; open: boolean; onToggle: () => void; onShow: (node: string) => void }) {
  const failed = doc.workflow.nodes.filter((n) => doc.status[n.id]?.state === "failed");
  // a failed node's error is listed once: its "failed: …" log line repeats the entry above it
  const said = new Set(failed.map((n) => `${n.id}\n failed: ${doc.status[n.id].message}`));
  const shown = logs.filter((l) => !(l.level === "error" && said.has(`${l.node}\n ${l.line}`)));
  return (
    <section className={`dn-panel${open ? " open" : ""}`}>
      <header onClick={onToggle}>
        <b>Messages</b> {failed.length > 0 && <span className="dn-badge-fail">{failed.length} failed</span>}
        <span className="muted">{logs.length} log lines</span>
        <span className="grow" />{open ? "▾" : "▴"}
      </header>
      {open && (
        <div className="dn-panel-body" data-testid="messages">
          {failed.map((n) => (
            <div key={n.id} className="dn-msg error" onClick={() => onShow(n.id)}>
              <b>{n.label}</b> ({n.id}) failed: {doc.status[n.id].message}
            </div>
          ))}
          {doc.workflow.nodes.filter((n) => doc.status[n.id]?.state === "idle" && doc.status[n.id]?.message).slice(0, 50).map((n) => (
            <div key={n.id} className="dn-msg warn"><b>{n.label}</b> ({n.id}) is not configured: {doc.status[n.id].message}</div>
          ))}
          {!failed.length && !logs.length && !doc.workflow.nodes.some((n) => doc.status[n.id]?.state === "idle" && doc.status[n.id]?.message) && (
            <div className="dn-msg muted dn-msg-empty">No messages: failed nodes, nodes that need configuring and log lines show here.</div>
          )}
          {shown.slice(-100).map((l, i) => (
            <div key={i} className={`dn-msg log level-${l.level}`}>{l.node ? <b>{l.node}: </b> : null}<span className="mono">{l.line.length > 400 ? l.line.slice(-400) : l.line}</span></div>
          ))}
        </div>
      )}
    </section>
  );
});
