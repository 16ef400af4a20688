import { defineConfig } from "vite";

// The bundle goes into the Python package, which serves it (`deepnodes serve`).
export default defineConfig({
  base: "/",
  build: {
    outDir: "../deepnodes/server/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  oxc: { jsx: { runtime: "automatic" } },
  server: {
    proxy: { "/api": { target: "http://127.0.0.1:8765", ws: true } },
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
} as any);
