// 7. HTTPS and HTTP/2: graceful-edge with --tls-cert/--tls-key (each engine)
// beside NGINX terminating TLS with the same self-signed certificate, both in
// front of the same static origin over plain HTTP/1.1. wrk measures HTTP/1.1
// over TLS (keep-alive: the handshake is paid once per connection); h2load
// (Debian nghttp2-client) measures HTTP/2 with several streams per connection.
// Everything on 127.0.0.1, bounded in time; everything started is stopped.
//
// Run by bench/run.mjs (section `tls`; alone: `--only tls`).
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { freePort, onCleanup, sleep, start, stop } from '../lib/procs.mjs';
import { NGINX, startStaticOrigin } from '../lib/nginx.mjs';
import { wrk } from '../lib/wrk.mjs';
import { startNode } from '../lib/graceful-edge.mjs';
import { fmt, median, table } from '../lib/stats.mjs';

export const H2LOAD = '/usr/bin/h2load';
const ENGINES = ['undici', 'http-proxy'];
const SIZES = [
  { label: '100 B', path: '/100b' },
  { label: '64 KiB', path: '/64k' },
];

function tempDir(tag) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ge-bench-tls-${tag}-`));
  chmodSync(dir, 0o755);
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function selfSigned() {
  const dir = tempDir('cert');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  chmodSync(key, 0o644);
  return { cert, key };
}

/** Resolves once an HTTPS GET answers 200 (self-signed accepted), or throws. */
async function waitHttps(url, timeoutMs = 10_000) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const ok = await new Promise((resolve) => {
      const req = https.get(url, { rejectUnauthorized: false, timeout: 1000 }, (res) => (res.resume(), resolve(res.statusCode === 200)));
      req.on('error', () => resolve(false));
      req.on('timeout', () => (req.destroy(), resolve(false)));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${url} did not answer 200 in ${timeoutMs} ms`);
}

/** NGINX terminating TLS (h2 + http/1.1) in front of the origin, one worker, upstream keep-alive. */
async function startTlsNginx({ port, upstreamPort, cert, key, cpus }) {
  const dir = tempDir('nginx');
  for (const sub of ['temp', 'html']) (mkdirSync(path.join(dir, sub)), chmodSync(path.join(dir, sub), 0o777));
  const t = path.join(dir, 'temp');
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${t}/body; proxy_temp_path ${t}/proxy; fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi; scgi_temp_path ${t}/scgi;
  keepalive_requests 1000000; keepalive_timeout 75s; http2_max_requests 1000000;
  upstream origin { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} ssl http2 backlog=4096;
    ssl_certificate ${cert}; ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffers 16 8k;
    }
  }
}
`,
  );
  const child = start(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], { cpus, name: 'nginx-tls' });
  await waitHttps(`https://127.0.0.1:${port}/100b`);
  return {
    port,
    stop: async () => {
      if (child.alive()) child.proc.kill('SIGQUIT');
      await Promise.race([child.exited, sleep(3000)]);
      return stop(child);
    },
  };
}

export function parseH2load(out) {
  const num = (re) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : NaN;
  };
  const unit = { us: 1e-3, ms: 1, s: 1000 };
  const mean = /time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(out);
  return {
    rps: num(/finished in [\d.]+\w+, ([\d.]+) req\/s/),
    succeeded: num(/(\d+) succeeded/),
    failed: num(/(\d+) failed/),
    errored: num(/(\d+) errored/),
    meanMs: mean ? Number(mean[1]) * unit[mean[2]] : NaN,
  };
}

/** One h2load run over HTTP/2: `clients` connections × `streams` concurrent streams each, for `seconds`. */
function h2load(url, { seconds, warmup, clients, streams, cpus }) {
  const args = ['-c', String(clients), '-m', String(streams), '-t', '1', '-D', String(seconds), '--warm-up-time', String(warmup), url];
  const argv = cpus !== null ? ['taskset', '-c', String(cpus), H2LOAD, ...args] : [H2LOAD, ...args];
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { timeout: (seconds + warmup + 15) * 1000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`h2load failed: ${error.message}\n${stderr}`));
      resolve(parseH2load(stdout));
    });
  });
}

export async function tlsBench(cfg, log) {
  if (!existsSync(H2LOAD)) log('  h2load missing (apt-get install nghttp2-client): HTTP/2 rows skipped');
  const { sutCpu, loadCpu, seconds, warmup, connections } = cfg;
  const rounds = Math.min(cfg.rounds, 2);
  const { cert, key } = selfSigned();
  const origin = await startStaticOrigin({ port: await freePort(), cpus: loadCpu });
  const nginx = await startTlsNginx({ port: await freePort(), upstreamPort: origin.port, cert, key, cpus: sutCpu });
  const targets = [{ name: 'nginx', url: `https://127.0.0.1:${nginx.port}` }];
  const nodes = [];
  for (const engine of ENGINES) {
    const node = await startNode({
      args: ['--upstream', `http://127.0.0.1:${origin.port}`, '--proxy-engine', engine, '--no-mdns', '--mesh-port', '0', '--tls-cert', cert, '--tls-key', key],
      cpus: sutCpu,
      name: `ge-tls-${engine}`,
    });
    await node.ready();
    const url = `https://127.0.0.1:${node.proxyPort}`;
    await waitHttps(`${url}/100b`);
    nodes.push(node);
    targets.push({ name: `graceful-edge ${engine}`, url });
  }
  // results[protocol][size][target] = [run…]
  const results = { 'HTTP/1.1 + TLS (wrk)': {}, 'HTTP/2 (h2load)': {} };
  const streams = 10;
  const h2clients = Math.max(1, Math.floor(connections / 4));
  for (let round = 1; round <= rounds; round++) {
    for (const size of SIZES) {
      for (const t of targets) {
        await wrk(t.url + size.path, { seconds: warmup, connections, cpus: loadCpu });
        const r = await wrk(t.url + size.path, { seconds, connections, cpus: loadCpu });
        delete r.raw;
        ((results['HTTP/1.1 + TLS (wrk)'][size.label] ??= {})[t.name] ??= []).push(r);
        log(`  round ${round} h1+tls ${size.label.padEnd(6)} ${t.name.padEnd(24)} ${fmt(r.rps, 0).padStart(8)} req/s  p99 ${fmt(r.p99, 2)} ms${r.non2xx || r.socketErrors ? `  (non-2xx ${r.non2xx}, socket errors ${r.socketErrors})` : ''}`);
        if (!existsSync(H2LOAD)) continue;
        const h = await h2load(t.url + size.path, { seconds, warmup, clients: h2clients, streams, cpus: loadCpu });
        ((results['HTTP/2 (h2load)'][size.label] ??= {})[t.name] ??= []).push(h);
        log(`  round ${round} h2     ${size.label.padEnd(6)} ${t.name.padEnd(24)} ${fmt(h.rps, 0).padStart(8)} req/s  mean ${fmt(h.meanMs, 2)} ms  (${h2clients} connections × ${streams} streams${h.failed || h.errored ? `, failed ${h.failed}, errored ${h.errored}` : ''})`);
      }
    }
  }
  for (const node of nodes) {
    node.child.proc.kill('SIGTERM');
    await node.child.exited;
  }
  await nginx.stop();
  await origin.stop();
  const summary = {};
  for (const [proto, bySize] of Object.entries(results)) {
    for (const [size, byTarget] of Object.entries(bySize)) {
      for (const [name, runs] of Object.entries(byTarget)) {
        ((summary[proto] ??= {})[size] ??= {})[name] = {
          rps: median(runs.map((r) => r.rps)),
          latencyMs: median(runs.map((r) => r.p99 ?? r.meanMs)),
          errors: runs.reduce((a, r) => a + (r.non2xx ?? 0) + (r.socketErrors ?? 0) + (r.failed || 0) + (r.errored || 0), 0),
        };
      }
    }
  }
  return { summary, rounds, h2: { clients: h2clients, streams } };
}

export function tlsTables({ summary }) {
  const out = [];
  for (const [proto, bySize] of Object.entries(summary)) {
    for (const [size, byTarget] of Object.entries(bySize)) {
      const nginx = byTarget.nginx ?? { rps: NaN, latencyMs: NaN };
      const latency = proto.startsWith('HTTP/2') ? 'mean ms' : 'p99 ms';
      const rows = Object.entries(byTarget).map(([name, s]) => [name, fmt(s.rps, 0), fmt(s.latencyMs, 2), fmt(s.rps / nginx.rps, 2), fmt(s.latencyMs / nginx.latencyMs, 2), s.errors]);
      out.push(`${proto}, ${size} responses:\n` + table(['target', 'req/s (median)', latency, 'req/s vs nginx', `${latency} vs nginx`, 'errors'], rows));
    }
  }
  return out.join('\n\n');
}
