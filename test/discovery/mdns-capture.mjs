// A raw mDNS listener for tests: joins 224.0.0.251 on loopback inside the
// test's network namespace and prints every packet, decoded with dns-packet
// (the decoder multicast-dns uses), as one JSON line:
// {"t", "from", "type": "query"|"response", "answers": [{name, type, ttl}], "additionals": [...]}
// or {"t", "from", "undecodable": true} for garbage.
import dgram from 'node:dgram';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const packet = require('dns-packet');
const iface = process.argv[2] ?? '127.0.0.1';

const rr = (r) => ({ name: r.name, type: r.type, ttl: r.ttl, data: Buffer.isBuffer(r.data) ? r.data.toString('hex') : r.data });
const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (msg, rinfo) => {
  const t = Date.now();
  const from = `${rinfo.address}:${rinfo.port}`;
  let decoded;
  try {
    decoded = packet.decode(msg);
  } catch {
    process.stdout.write(`${JSON.stringify({ t, from, undecodable: true })}\n`);
    return;
  }
  const line = {
    t,
    from,
    type: decoded.type,
    answers: (decoded.answers ?? []).map(rr),
    additionals: (decoded.additionals ?? []).map(rr),
    questions: decoded.questions ?? [],
  };
  process.stdout.write(`${JSON.stringify(line, (_k, v) => (Buffer.isBuffer(v) ? v.toString() : v))}\n`);
});
socket.bind(5353, '0.0.0.0', () => {
  socket.addMembership('224.0.0.251', iface);
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
});
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
