// Builds the variants the ablation in docs/performance.md measures: the
// current tree with one piece of the request path switched off (or all of
// the forwarder replaced by a direct engine call), each into dist-<variant>/
// beside dist/, for bench/ablate.mjs:
//
//   node bench/ablation-builds.mjs            # every variant
//   node bench/ablation-builds.mjs nobreaker  # some
//   node bench/ablate.mjs --size 100b --rounds 5 dist-full dist-nobreaker ...
//
// Each variant is the source copied to a scratch directory with a few text
// replacements; a replacement whose anchor is no longer in the source fails
// the build (the variant would otherwise silently measure the full build).
// The variants are for measuring only: none of them keeps every feature.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT } from './lib/graceful-edge.mjs';

const FORWARDER = 'src/proxy/request-forwarder.ts';
const SERVER = 'src/proxy/proxy-server.ts';
const HEADERS = 'src/proxy/forwarding-headers.ts';
const METRICS = 'src/observability/metrics.ts';

/** The whole forwarder replaced by: pick an upstream, forward, relay the head and body as they are. */
const ENGINE_ONLY = [
  FORWARDER,
  '  const refusal = refusalFor(req);\n',
  '  if (process.pid > 0) {\n' +
    '    const pick = deps.picker.pick({ peers: false, upstreams: true });\n' +
    "    if (pick.kind !== 'target') return sendJson(res, 503, { error: 'no target' });\n" +
    '    return deps.engine\n' +
    '      .forward({ target: pick.target, incoming: req, response: res, headers: req.headers, body: null, signal: new Attempt(), headTimeoutMs: deps.targetTimeoutMs })\n' +
    '      .then((r) => { res.writeHead(r.status, r.headers); r.body.pipeTo(res, () => undefined); });\n' +
    '  }\n' +
    '  const refusal = refusalFor(req);\n',
];
const NO_DEFAULT_METRICS = [METRICS, '  client.collectDefaultMetrics(', '  if (process.pid < 0) client.collectDefaultMetrics('];

/** variant → [file, anchor, replacement][] */
const VARIANTS = {
  full: [],
  // Every attempt straight to the engine, no cockatiel policy (no breaker state either).
  nobreaker: [[FORWARDER, 'await deps.breakers.run(target.key, ', 'await ((_k: string, f: () => Promise<ForwardedResponse>) => f())(target.key, ']],
  // The client's headers as they came (no hop-by-hop filtering, no X-Forwarded-*/Forwarded); the target's as they came unless closing.
  noheaders: [
    [HEADERS, '  const out = withoutHopByHop(req.headers);\n  const raw', '  if (opts.nodeId) return { ...req.headers };\n  const out = withoutHopByHop(req.headers);\n  const raw'],
    [HEADERS, '  const out = withoutHopByHop(headers);\n  if (closing)', '  if (!closing) return headers;\n  const out = withoutHopByHop(headers);\n  if (closing)'],
  ],
  // No request-line checks (RFC 9112 refusals: asterisk-form, CONNECT, bad targets).
  norules: [[FORWARDER, '  const refusal = refusalFor(req);', '  const refusal = null as ReturnType<typeof refusalFor>;']],
  // No per-response close listener: no outcome counting, the in-flight record dropped at once.
  noclose: [[SERVER, "        res.once('close', () => {", "        rt.tracker.endRequest(record);\n        if (process.pid < 0) res.once('close', () => {"]],
  // prom-client's default collectors (event-loop delay histogram, GC observer) off.
  nodm: [NO_DEFAULT_METRICS],
  engineonly: [ENGINE_ONLY],
  'engineonly-nodm': [ENGINE_ONLY, NO_DEFAULT_METRICS],
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(VARIANTS);
for (const name of wanted) {
  const edits = VARIANTS[name];
  if (!edits) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
  const scratch = mkdtempSync(path.join(tmpdir(), `ge-ablate-${name}-`));
  try {
    for (const part of ['src', 'machines', 'scripts', 'package.json', 'tsconfig.json']) cpSync(path.join(ROOT, part), path.join(scratch, part), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(scratch, 'node_modules'));
    for (const [file, anchor, replacement] of edits) {
      const p = path.join(scratch, file);
      const text = readFileSync(p, 'utf8');
      if (!text.includes(anchor)) throw new Error(`variant ${name}: "${anchor.trim().slice(0, 60)}" is no longer in ${file}`);
      writeFileSync(p, text.replace(anchor, replacement));
    }
    const out = path.join(ROOT, `dist-${name}`);
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: scratch, env: { ...process.env, GE_DIST: out }, stdio: ['ignore', 'ignore', 'inherit'] });
    process.stdout.write(`dist-${name}: ${edits.length} edit(s)\n`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
