// Bundles the daemon (src/cli.ts + machines/) into dist/cli.js and the
// inspector page's script into dist/inspector/. Dependencies stay external
// (better-sqlite3 is native) but for the few listed in BUNDLED; nothing here
// needs the network.
import { build } from 'esbuild';
import { chmod, mkdir, readdir, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';

// Dependencies stay external, loaded from node_modules, except the ones
// bundled for memory (docs/performance.md, "Memory"): zod, whose functional
// API (src/zod.ts) tree-shakes to the checks the schemas use, where the
// package loaded as ~90 ES modules cost ~13 MiB of idle RSS; and the pure-JS
// CommonJS packages every run loads at start (cockatiel, prom-client with
// @opentelemetry/api, commander: ~90 files, ~2 MiB less once bundled). Native
// (better-sqlite3), lazily loaded (etcd3, bonjour-service, http-proxy-3,
// @statelyai/inspect, ws) and shared (xstate, which @statelyai/inspect also
// imports) packages stay external, and so do undici and pino (no gain).
const BUNDLED = new Set(['zod', 'cockatiel', 'prom-client', 'commander']);
const { dependencies } = JSON.parse(readFileSync('package.json', 'utf8'));
const external = Object.keys(dependencies)
  .filter((name) => !BUNDLED.has(name))
  .flatMap((name) => [name, `${name}/*`]);

// GE_DIST lets parallel work trees build side by side (e.g. dist-proxy/).
const out = process.env.GE_DIST ?? 'dist';
await mkdir(out, { recursive: true });
// Chunk names carry a hash: remove the previous build's so none go stale.
for (const f of await readdir(out)) if (f.startsWith('cli-')) await rm(`${out}/${f}`);
// The entry is src/main.ts, which installs the signal handlers and then
// imports the CLI: `splitting` keeps that dynamic import a separate chunk,
// so no dependency loads before the handlers exist (see src/main.ts).
// Chunks sit beside cli.js (import.meta.dirname stays dist/).
await build({
  // worker.js: a `--workers N` data-plane process (src/workers/entry.ts).
  entryPoints: { cli: 'src/main.ts', worker: 'src/workers/entry.ts' },
  outdir: out,
  // Code splitting also keeps what a run may not use (etcd3 and its gRPC
  // stack, bonjour-service, http-proxy-3) behind dynamic import() in its own
  // chunk, so its external packages load only when used (docs/performance.md).
  splitting: true,
  chunkNames: 'cli-[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external,
  sourcemap: 'linked',
  // The bundled CommonJS packages call require() (for Node's built-ins):
  // in an ES module it has to be made.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __geCreateRequire } from 'node:module';\nconst require = __geCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
await chmod(`${out}/cli.js`, 0o755);

// The inspector's browser script, if present, is bundled with its npm
// dependencies so the page works with no network at all.
if (existsSync('src/admin/inspector/client.ts')) {
  await build({
    entryPoints: ['src/admin/inspector/client.ts'],
    outfile: `${out}/inspector/client.js`,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify: true,
    logLevel: 'warning',
  });
}
