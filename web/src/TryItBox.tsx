// "Try it" on a Text Generator or a Sequence Decoder: type a seed text or an English sentence and get the
// generated or translated text from the trained network at the node's input, without re-running the workflow
// (server: POST /api/docs/{doc}/nodes/{node}/try, bounded in length and time).
import { useState } from "react";
import { api } from "./api";

interface TryResult { output: string; kind: "generated" | "translation"; seconds: number; input: string }

export function TryItBox({ docId, node, generator }: { docId: string; node: string; generator: boolean }) {
  const [text, setText] = useState("");
  const [length, setLength] = useState("");
  const [res, setRes] = useState<TryResult | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true); setError("");
    try {
      const body: Record<string, unknown> = { text };
      if (generator && length.trim()) body.length = Number(length);
      setRes(await api<TryResult>("POST", `/api/docs/${docId}/nodes/${encodeURIComponent(node)}/try`, body));
    } catch (e: any) {
      setRes(null); setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="dn-tryit" data-testid="try-it">
      <label>{generator ? "Seed text" : "Sentence to translate"}
        <textarea value={text} maxLength={1000} rows={3} onChange={(e) => setText(e.target.value)} aria-label={generator ? "seed text" : "sentence to translate"}
          onKeyDown={(e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && text) go(); }} />
      </label>
      {generator && <label className="dn-tryit-len">Characters to generate <input type="number" min={1} max={400} value={length} placeholder="node's length" onChange={(e) => setLength(e.target.value)} aria-label="characters to generate" /></label>}
      <button onClick={go} disabled={busy || !text}>{busy ? "running…" : generator ? "Generate" : "Translate"}</button>
      {error && <div className="dn-error">{error}</div>}
      {res && (
        <div className="dn-tryit-out" data-testid="try-it-output">
          <div data-testid="try-it-text">{generator ? <><span className="muted">{res.input}</span>{res.output}</> : res.output}</div>
          <div className="muted">{res.seconds.toFixed(2)} s, with the node's options</div>
        </div>
      )}
    </div>
  );
}
