// What the figures were measured on: printed with every run.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';

// stdout, or stderr when stdout is empty (`nginx -v` prints on stderr).
const sh = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return (r.stdout?.trim() || r.stderr?.trim()) ?? null;
};

export function loadAvg() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

export function machineInfo(root) {
  const lscpu = sh('lscpu', []) ?? '';
  const field = (k) => new RegExp(`^${k}:\\s+(.*)$`, 'm').exec(lscpu)?.[1] ?? null;
  const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));
  const dep = (name) => {
    try {
      return JSON.parse(readFileSync(`${root}/node_modules/${name}/package.json`, 'utf8')).version;
    } catch {
      return null;
    }
  };
  return {
    date: new Date().toISOString(),
    nproc: Number(sh('nproc', [])),
    cpu: field('Model name'),
    hypervisor: field('Hypervisor vendor'),
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    graceful_edge: pkg.version,
    gitHead: sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
    nginx: sh('/usr/sbin/nginx', ['-v'])?.replace(/^nginx version: /, '') ?? null,
    wrk: sh('/usr/bin/wrk', ['-v'])?.split('\n')[0]?.replace(/ Copyright.*/, '') ?? null,
    undici: dep('undici'),
    httpProxy3: dep('http-proxy-3'),
    loadAvgAtStart: loadAvg(),
  };
}

export function tools() {
  return {
    nginx: existsSync('/usr/sbin/nginx'),
    wrk: existsSync('/usr/bin/wrk'),
    taskset: existsSync('/usr/bin/taskset'),
    ip: existsSync('/usr/sbin/ip') || existsSync('/usr/bin/ip') || existsSync('/sbin/ip'),
    root: process.getuid?.() === 0,
  };
}
