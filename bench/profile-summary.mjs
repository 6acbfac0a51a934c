// Self time by function and by file from a V8 CPU profile, as % of the
// non-idle samples: the figures docs/performance.md quotes from profiles.
//   node bench/ablate.mjs --size 100b --rounds 1 --seconds 8 --prof /tmp/prof dist-full dist-engineonly
//   node bench/profile-summary.mjs /tmp/prof/dist-full [top N functions, default 30]
// The argument is a .cpuprofile file or a directory holding one (the newest is read).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const [target, topArg] = process.argv.slice(2);
if (!target) {
  process.stderr.write('usage: node bench/profile-summary.mjs <file.cpuprofile | dir> [top]\n');
  process.exit(2);
}
const file = statSync(target).isDirectory()
  ? path.join(
      target,
      readdirSync(target)
        .filter((f) => f.endsWith('.cpuprofile'))
        .sort((a, b) => statSync(path.join(target, b)).mtimeMs - statSync(path.join(target, a)).mtimeMs)[0] ?? '',
    )
  : target;
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const hits = new Map();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);

const byFunction = new Map();
const byFile = new Map();
let busy = 0;
let idle = 0;
for (const [id, count] of hits) {
  const { functionName, url, lineNumber } = nodes.get(id).callFrame;
  if (functionName === '(idle)') {
    idle += count;
    continue;
  }
  busy += count;
  const fileName = url.replace(/.*\//, '') || '(native)';
  const key = `${functionName || '(anonymous)'} ${fileName}:${lineNumber}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + count);
  byFile.set(fileName, (byFile.get(fileName) ?? 0) + count);
}
const pct = (n) => ((100 * n) / busy).toFixed(2).padStart(6);
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
process.stdout.write(`${file}: ${busy} non-idle samples, ${idle} idle\n\nself % by function\n`);
for (const [k, c] of top(byFunction, Number(topArg ?? 30))) process.stdout.write(`${pct(c)}  ${k}\n`);
process.stdout.write('\nself % by file (the daemon\'s own code is in the cli-*.js chunks)\n');
for (const [k, c] of top(byFile, 20)) process.stdout.write(`${pct(c)}  ${k}\n`);
