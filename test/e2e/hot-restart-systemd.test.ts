/**
 * Under systemd (Type=notify, NotifyAccess=all) a hot restart must move
 * MAINPID to the successor before the old process exits. systemd is not
 * running here: a Unix datagram socket stands in for NOTIFY_SOCKET, and the
 * real `systemd-notify` writes to it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { until } from '../helpers/wait.js';
import { hotRestart, stateOf, trackPids } from '../restart/support.js';

const { nodes, cleanups } = testScope();
const HAS_NOTIFY = existsSync('/usr/bin/systemd-notify') || existsSync('/bin/systemd-notify');
if (!HAS_NOTIFY) console.warn('[skip] hot restart under systemd: no systemd-notify (Debian package systemd) on this machine');

describe.skipIf(!HAS_NOTIFY)('hot restart under systemd Type=notify', () => {
  it('says READY=1 at start, and the successor says MAINPID=<its pid> before the old process exits', async () => {
    const track = trackPids(cleanups);
    const socketPath = path.join(cleanups.tempDir('ge-notify-'), 'notify.sock');
    const listener = spawn('python3', [path.join(import.meta.dirname, '../restart/notify-socket.py'), socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.defer(() => listener.kill('SIGKILL'));
    const messages: Array<{ at: number; text: string }> = [];
    readline.createInterface({ input: listener.stdout! }).on('line', (text) => messages.push({ at: Date.now(), text }));
    await until('the notify socket', async () => messages.some((m) => m.text === 'listening'), { timeoutMs: 60_000 });

    const n = await startNode({ env: { NOTIFY_SOCKET: socketPath }, startTimeoutMs: 60_000 });
    nodes.push(n);
    const first = await stateOf(n.adminUrl);
    track(first.pid);
    await until('READY=1 at start', async () => messages.some((m) => m.text.includes('READY=1')), { timeoutMs: 60_000 });
    expect(messages.filter((m) => m.text.includes('MAINPID='))).toHaveLength(0);

    const next = await hotRestart(n.adminUrl, first.pid, 150_000);
    track(next.pid);
    const mainPid = await until('MAINPID of the successor', async () => messages.find((m) => m.text.includes(`MAINPID=${next.pid}`)), { timeoutMs: 60_000 });
    expect(mainPid.text).toContain('READY=1');
    await n.exited;
    const oldExit = Date.now();
    // MAINPID moved before the old process was gone.
    expect(mainPid.at).toBeLessThanOrEqual(oldExit);
    const handedOver = n.logs.find((l) => l.restart === 'handed-over');
    expect(handedOver?.time as number).toBeGreaterThanOrEqual(mainPid.at - 1_000);
  }, 400_000);
});
