import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig, transformWithEsbuild, type Plugin } from "vite";

/**
 * The service worker: src/sw.ts compiled on its own (no imports) and given the list of
 * files to keep for the offline shell, and a version that changes with any of them. Both
 * come from the bundle, so the output is the same on every machine.
 */
function serviceWorker(): Plugin {
  return {
    name: "tot-service-worker",
    apply: "build",
    async generateBundle(_options, bundle) {
      const files = Object.keys(bundle)
        .filter((name) => /\.(js|css|html|webmanifest|svg|png)$/.test(name))
        .filter((name) => !name.includes("maplibre")) // the map comes with the map screens
        .sort();
      const hash = createHash("sha256");
      for (const name of files) {
        const item = bundle[name]!;
        hash.update(name);
        hash.update(item.type === "chunk" ? item.code : item.source);
      }
      const source = readFileSync(fileURLToPath(new URL("./src/sw.ts", import.meta.url)), "utf8");
      const compiled = await transformWithEsbuild(source, "sw.ts", {
        loader: "ts",
        format: "iife",
        target: "es2020",
        minify: true,
        define: {
          __SHELL_FILES__: JSON.stringify(["/", ...files.map((f) => `/${f}`)]),
          __SHELL_VERSION__: JSON.stringify(hash.digest("hex").slice(0, 16)),
        },
      });
      this.emitFile({ type: "asset", fileName: "sw.js", source: compiled.code });
    },
  };
}

export default defineConfig({
  base: "/",
  publicDir: "public",
  esbuild: { jsx: "automatic", jsxImportSource: "preact", legalComments: "none" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2020",
    sourcemap: false,
    assetsInlineLimit: 0, // nothing inlined as data: URLs
    chunkSizeWarningLimit: 1200, // maplibre-gl is ~800 kB minified, loaded with the map only
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (id.includes("node_modules/maplibre-gl")) return "maplibre";
          return undefined;
        },
      },
    },
  },
  // The operator console's feed worker (an ES module worker, from 'self' under the CSP).
  worker: { format: "es" },
  plugins: [serviceWorker()],
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    environment: "node",
  },
} as Parameters<typeof defineConfig>[0]);
