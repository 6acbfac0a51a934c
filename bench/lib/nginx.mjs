// Debian nginx, run under its own temp prefix (conf, pid, logs, temp dirs),
// in the foreground so the bench owns the master process and can stop it.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onCleanup, start, stop, waitFor } from './procs.mjs';

export const NGINX = '/usr/sbin/nginx';

function prefixDir(tag) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ge-bench-nginx-${tag}-`));
  // Workers run as `nobody` when the bench runs as root: they must read the files.
  chmodSync(dir, 0o755);
  for (const sub of ['temp', 'html']) {
    mkdirSync(path.join(dir, sub));
    chmodSync(path.join(dir, sub), 0o777);
  }
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function common(dir, workers = 1) {
  const t = path.join(dir, 'temp');
  return `
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
`.trim() + `\n` + `http {
  access_log off;
  client_body_temp_path ${t}/body; proxy_temp_path ${t}/proxy; fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi; scgi_temp_path ${t}/scgi;
  keepalive_requests 1000000; keepalive_timeout 75s;
`;
}

async function run(dir, port, cpus, tag) {
  const conf = path.join(dir, 'nginx.conf');
  const child = start(NGINX, ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], { cpus, name: `nginx-${tag}` });
  const ms = await waitFor(`http://127.0.0.1:${port}/100b`, { timeoutMs: 5000 });
  if (ms === null) throw new Error(`nginx (${tag}) did not come up: ${child.stderr()}`);
  // SIGQUIT = graceful stop of master and workers.
  return { child, port, dir, stop: async () => { if (child.alive()) child.proc.kill('SIGQUIT'); await Promise.race([child.exited, new Promise((r) => setTimeout(r, 3000))]); return stop(child); } };
}

/** A static origin: /100b and /64k are files, served by one nginx worker. */
export async function startStaticOrigin({ port, cpus }) {
  const dir = prefixDir('origin');
  writeFileSync(path.join(dir, 'html', '100b'), 'x'.repeat(99) + '\n');
  writeFileSync(path.join(dir, 'html', '64k'), Buffer.alloc(65536, 'y'));
  chmodSync(path.join(dir, 'html', '100b'), 0o644);
  chmodSync(path.join(dir, 'html', '64k'), 0o644);
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    common(dir) +
      `  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    root ${dir}/html;
    default_type application/octet-stream;
    sendfile on; tcp_nopush on;
    location / { try_files $uri =404; }
  }
}
`,
  );
  return run(dir, port, cpus, 'origin');
}

/**
 * NGINX as the reverse proxy an operator would pick instead: one worker,
 * HTTP/1.1 upstream keep-alive. Buffers are sized so a 64 KiB response stays in
 * memory (default buffers would spill it to a temp file).
 */
export async function startProxyNginx({ port, upstreamPort, cpus, workers = 1 }) {
  const dir = prefixDir('proxy');
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    common(dir, workers) +
      `  upstream origin { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
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
  return run(dir, port, cpus, 'proxy');
}
