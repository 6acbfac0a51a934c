// wrk (Debian 4.1): fixed-duration closed-loop load, 1 thread, pinned.
import { execFile } from 'node:child_process';

export const WRK = '/usr/bin/wrk';

const UNIT = { us: 1e-3, ms: 1, s: 1000, m: 60_000 };
function ms(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT[m[2]] : NaN;
}

export function parseWrk(out) {
  const num = (re) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : 0;
  };
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    return m ? ms(m[1]) : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    p50: pct(50),
    p99: pct(99),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** One wrk run; `cpus` pins it with taskset. Never longer than duration + 15 s. */
export function wrk(url, { seconds, connections, cpus, timeoutS = 2 }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, `--timeout`, `${timeoutS}s`, '--latency', url];
  const argv = cpus !== null ? ['taskset', '-c', String(cpus), WRK, ...args] : [WRK, ...args];
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { timeout: (seconds + 15) * 1000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`wrk failed: ${error.message}\n${stderr}`));
      resolve({ ...parseWrk(stdout), raw: stdout });
    });
  });
}
