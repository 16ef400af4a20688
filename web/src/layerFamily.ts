// Layer families: which icon and colour a layer gets on the canvas and in the network picture, from its kind
// (the layer catalogue's key) or its node category ("Deep Learning/Layers/Convolution").

export interface Family { id: string; glyph: string; fill: string; stroke: string }

const FAMILIES: [RegExp, Family][] = [
  [/^input$|\binput layer\b/i, { id: "input", glyph: "⊳", fill: "#f0fff4", stroke: "#38a169" }],
  [/conv|convolution/i, { id: "conv", glyph: "▦", fill: "#ebf8ff", stroke: "#3182ce" }],
  [/pool/i, { id: "pool", glyph: "▤", fill: "#e6fffa", stroke: "#319795" }],
  [/lstm|gru|rnn|recurrent|bidirectional/i, { id: "recurrent", glyph: "↻", fill: "#faf5ff", stroke: "#805ad5" }],
  [/attention/i, { id: "attention", glyph: "◎", fill: "#fff5f7", stroke: "#d53f8c" }],
  [/embedding/i, { id: "embedding", glyph: "⋮", fill: "#fefcbf", stroke: "#b7791f" }],
  [/dropout|noise/i, { id: "dropout", glyph: "⋯", fill: "#f7fafc", stroke: "#a0aec0" }],
  [/norm/i, { id: "norm", glyph: "≈", fill: "#fffaf0", stroke: "#dd6b20" }],
  [/add|concat|multiply|average|maximum|minimum|subtract|dot|merge/i, { id: "merge", glyph: "⊕", fill: "#fff5f5", stroke: "#e53e3e" }],
  [/flatten|reshape|permute|repeat|crop|pad|upsampl|reshaping/i, { id: "reshape", glyph: "⇅", fill: "#edf2f7", stroke: "#4a5568" }],
  [/dense|linear|core/i, { id: "dense", glyph: "▥", fill: "#ebf4ff", stroke: "#2b6cb0" }],
  [/relu|softmax|activation|sigmoid|tanh/i, { id: "activation", glyph: "∫", fill: "#f0fff4", stroke: "#2f855a" }],
];

const OTHER: Family = { id: "other", glyph: "▣", fill: "#f7fafc", stroke: "#718096" };

export function layerFamily(kindOrCategory: string): Family {
  for (const [re, f] of FAMILIES) if (re.test(kindOrCategory)) return f;
  return OTHER;
}
