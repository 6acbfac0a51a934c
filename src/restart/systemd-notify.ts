/**
 * systemd `Type=notify` support, only when systemd asked for it
 * (`NOTIFY_SOCKET` is set). A hot restart replaces the main process, so the
 * successor must tell systemd its pid (MAINPID=) before the old one exits,
 * or systemd would take the old one's exit for the service's end and stop
 * the rest of the cgroup. Node cannot write to a Unix datagram socket, so the
 * messages go through systemd's own `systemd-notify` (NotifyAccess=all lets
 * a helper process in the service's cgroup speak for it).
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../log/logger.js';

const NOTIFY_TIMEOUT_MS = 5_000;

export interface SystemdNotifier {
  /** READY=1 (first start), or MAINPID=<this pid> + READY=1 (hot-restart successor). */
  ready(takeover: boolean): Promise<void>;
}

export function createSystemdNotifier(logger: Logger, env: NodeJS.ProcessEnv = process.env, bin = env.GRACEFUL_EDGE_SYSTEMD_NOTIFY ?? 'systemd-notify'): SystemdNotifier | null {
  if (!env.NOTIFY_SOCKET) return null;
  const run = (args: string[]) =>
    new Promise<void>((resolve) => {
      execFile(bin, args, { timeout: NOTIFY_TIMEOUT_MS, env }, (error) => {
        if (error) logger.warn({ bin, args, err: error.message }, 'systemd notification failed');
        resolve();
      });
    });
  return {
    ready: (takeover) => run(takeover ? [`--pid=${process.pid}`, '--ready', `STATUS=serving (pid ${process.pid}, hot restart)`] : ['--ready', `STATUS=serving (pid ${process.pid})`]),
  };
}
