// Bundles the daemon (src/cli.ts + machines/) into dist/cli.js and the
// inspector page's script into dist/inspector/. Dependencies stay external
// (better-sqlite3 is native); nothing here needs the network.
import { build } from 'esbuild';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';

// GE_DIST lets parallel work trees build side by side (e.g. dist-proxy/).
const out = process.env.GE_DIST ?? 'dist';
// Chunk names carry a hash: drop the previous build's so none is left stale.
await rm(`${out}/chunks`, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: ['src/cli.ts'],
  outdir: out,
  entryNames: '[name]',
  // Code splitting: what a run may not use (etcd3 and its gRPC stack,
  // bonjour-service, http-proxy-3) sits behind dynamic import() in its own
  // chunk, so its external packages are loaded only when used (docs/performance.md).
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  banner: { js: '#!/usr/bin/env node' },
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
