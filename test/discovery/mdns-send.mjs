// Sends hand-made mDNS packets to 224.0.0.251:5353 from inside the test's
// network namespace (never run it elsewhere). Usage:
//   node mdns-send.mjs garbage            64 random bytes, then a truncated DNS header
//   node mdns-send.mjs broken-txt NAME    a _graceful-edge._tcp announcement whose TXT makes no sense
//   node mdns-send.mjs peer NAME ID PORT MESHPORT TTL   a well-formed announcement with a short TTL
//   node mdns-send.mjs probe NAME TXT COUNT SPACING_MS  COUNT probes for NAME (RFC 6762 §8.2: the
//                                         question plus proposed SRV/TXT as authorities), SPACING_MS apart
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const packet = require('dns-packet');
const [mode, name = 'rogue', ...rest] = process.argv.slice(2);
const TYPE = '_graceful-edge._tcp.local';

function announcement(instance, port, txt, ttl) {
  const fqdn = `${instance}.${TYPE}`;
  const host = `${instance}.local`;
  return packet.encode({
    type: 'response',
    flags: packet.AUTHORITATIVE_ANSWER,
    answers: [
      { name: TYPE, type: 'PTR', ttl, data: fqdn },
      { name: fqdn, type: 'SRV', ttl, data: { port, target: host, priority: 0, weight: 0 } },
      { name: fqdn, type: 'TXT', ttl, data: txt },
      { name: host, type: 'A', ttl, data: '127.0.0.1' },
    ],
  });
}

const packets = [];
let spacingMs = 0;
if (mode === 'garbage') {
  packets.push(randomBytes(64), Buffer.from([0x00, 0x00, 0x84, 0x00, 0x00, 0x00, 0x00, 0x05]));
} else if (mode === 'broken-txt') {
  // Decodes as DNS, but the TXT carries no id, a non-numeric port and binary junk.
  packets.push(announcement(name, 4242, [Buffer.from('meshPort=abc'), Buffer.from([0xff, 0xfe, 0x3d, 0x00]), Buffer.from('proxyPort=')], 120));
  // A TXT whose length byte runs past the end of the record: not decodable at all.
  const ok = announcement(`${name}-len`, 4243, [Buffer.from('id=x')], 120);
  const i = ok.indexOf(Buffer.from('id=x'));
  ok[i - 1] = 0xf0;
  packets.push(ok);
} else if (mode === 'peer') {
  const [id, port, meshPort, ttl] = rest;
  const txt = [`v=1`, `id=${id}`, `address=127.0.0.1:${port}`, `proxyPort=${port}`, `meshPort=${meshPort}`].map((s) => Buffer.from(s));
  packets.push(announcement(name, Number(port), txt, Number(ttl)));
} else if (mode === 'probe') {
  const [txt, count, spacing] = rest;
  const fqdn = `${name}.${TYPE}`;
  const probe = packet.encode({
    type: 'query',
    questions: [{ name: fqdn, type: 'ANY' }],
    authorities: [
      { name: fqdn, type: 'SRV', ttl: 120, data: { port: 45999, target: 'prober.local', priority: 0, weight: 0 } },
      { name: fqdn, type: 'TXT', ttl: 4500, data: [Buffer.from(txt)] },
    ],
  });
  for (let i = 0; i < Math.min(Number(count), 100); i++) packets.push(probe);
  spacingMs = Math.min(Number(spacing), 1_000);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}

const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
socket.bind(0, () => {
  socket.setMulticastInterface('127.0.0.1');
  let left = packets.length;
  packets.forEach((p, i) =>
    setTimeout(
      () =>
        socket.send(p, 5353, '224.0.0.251', (err) => {
          if (err) {
            console.error(`send failed: ${err.code}`);
            process.exitCode = 1;
          }
          if (--left === 0) socket.close();
        }),
      i * spacingMs,
    ),
  );
});
