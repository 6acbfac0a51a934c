// A fresh network namespace with only `lo` up and multicast routed to it, so
// mDNS can run without a packet leaving the machine; deleted at cleanup.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { onCleanup } from './procs.mjs';

export function createNetns() {
  const name = `ge-bench-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  const remove = () => {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  };
  onCleanup(remove);
  try {
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'multicast', 'on']);
    execFileSync('ip', ['-n', name, 'route', 'add', '224.0.0.0/4', 'dev', 'lo']);
  } catch (error) {
    remove();
    throw error;
  }
  return { name, remove };
}
