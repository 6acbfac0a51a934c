/**
 * Writes a state.db with N saved peers and N breakers through the store's own
 * module (src/store/sqlite-store.ts) and real cockatiel breakers
 * (src/proxy/breaker-registry.ts), exactly as a node would have saved them.
 * Bundled by bench/sections/restore.mjs; usage: node seed.mjs FILE N
 *
 * Peers live at 127.77.x.y:9 — loopback addresses where nothing listens, so
 * the restarted node's probes are refused at once and stay on this machine.
 * One breaker in ten is open (opened just now), the rest closed.
 */
import type { PeerInfo } from '../machines/events.js';
import { BreakerRegistry } from '../src/proxy/breaker-registry.js';
import { SqliteStateStore } from '../src/store/sqlite-store.js';

const [file, nText] = process.argv.slice(2);
const n = Number(nText);
if (!file || !Number.isInteger(n) || n < 0) {
  process.stderr.write('usage: seed FILE N\n');
  process.exit(2);
}

const now = Date.now();
const address = (i: number) => `127.77.${(i >> 8) & 255}.${i & 255}:9`;
const peers: PeerInfo[] = Array.from({ length: n }, (_, i) => ({
  address: i < 65_536 ? address(i) : `127.78.${(i >> 8) & 255}.${i & 255}:9`,
  meshPort: 9,
  id: `seeded-${i}`,
  source: i % 3 === 0 ? 'static' : i % 3 === 1 ? 'mdns' : 'etcd',
  status: 'alive',
  lastSeen: now - 1000,
}));

const registry = new BreakerRegistry({ threshold: 5, halfOpenAfterMs: 10 * 60_000, countsAsFailure: () => true });
const fail = () => Promise.reject(new Error('seeded failure'));
for (const [i, p] of peers.entries()) {
  const policy = registry.get(p.address);
  if (i % 10 === 0) for (let k = 0; k < 5; k++) await policy.execute(fail).catch(() => undefined);
}

const store = SqliteStateStore.open(file);
const saved = store.saveSnapshot({ nodeId: 'bench-restore', peers, breakers: registry.exportAll(), savedAt: now });
store.close();
process.stdout.write(`${JSON.stringify(saved)}\n`);
