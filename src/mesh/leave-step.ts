/**
 * The mesh part of deregistering: a signed leave notice to every peer that
 * has not left, re-sent (with a fresh sequence number, so receivers do not
 * take the retry for a replay) to those that have not acked, until all have
 * or the deregistration slice of the shutdown budget runs out.
 *
 * Only `alive` peers are waited for: a `suspect` peer (remembered, never
 * proven since) gets the notice and retries for SUSPECT_GRACE_MS, but a dead
 * one must not hold every shutdown for the whole slice.
 */
import type { PeerInfo } from '../../machines/events.js';
import type { DeregisterOutcome } from '../../machines/events.js';
import { parseHostPort } from '../config/host-port.js';
import type { Logger } from '../log/logger.js';
import type { MeshEndpoint } from './endpoint.js';

export const LEAVE_RETRY_MS = 150;
export const SUSPECT_GRACE_MS = 300;
/** Returned this long before the chart's own deregister timeout, so the outcome is recorded. */
const SAFETY_MARGIN_MS = 50;

export interface LeaveDeps {
  endpoint: MeshEndpoint | null;
  hasKey: boolean;
  peers: () => PeerInfo[];
  logger: Logger;
  /** Epoch ms of the shutdown signal, to log how soon the notices went out. */
  signalAt?: () => number | null;
}

type Outcome = Pick<DeregisterOutcome, 'noticesSent' | 'acked'>;

export async function sendLeaveNotices(deps: LeaveDeps, timeoutMs: number): Promise<Outcome> {
  const { endpoint, logger } = deps;
  if (!deps.hasKey) {
    logger.info('no leave notices sent: no mesh key');
    return { noticesSent: 0, acked: 0 };
  }
  if (!endpoint) {
    logger.warn('no leave notices sent: the mesh socket is not bound');
    return { noticesSent: 0, acked: 0 };
  }
  const started = Date.now();
  const targets = deps.peers().filter((p) => p.status !== 'left' && p.meshPort > 0);
  if (targets.length === 0) {
    logger.info('no leave notices sent: no peers');
    return { noticesSent: 0, acked: 0 };
  }
  const signalAt = deps.signalAt?.() ?? null;
  logger.info(
    { mesh: 'leaving', peers: targets.length, sinceSignalMs: signalAt === null ? null : started - signalAt },
    'sending leave notices',
  );
  const awaited = targets.filter((p) => p.status === 'alive').map((p) => p.address);
  const acked = new Set<string>();
  const graceEnd = started + SUSPECT_GRACE_MS;
  const done = () => awaited.every((a) => acked.has(a)) && (acked.size === targets.length || Date.now() >= graceEnd);
  const cancels: Array<() => void> = [];
  let packets = 0;
  const deadline = started + Math.max(0, timeoutMs - SAFETY_MARGIN_MS);

  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    const finish = () => {
      if (timer) clearTimeout(timer);
      resolve();
    };
    const round = () => {
      for (const peer of targets) {
        if (acked.has(peer.address)) continue;
        let host: string;
        try {
          host = parseHostPort(peer.address).host;
        } catch {
          continue;
        }
        const seq = endpoint.send('leave', { host, port: peer.meshPort });
        packets++;
        cancels.push(
          endpoint.expectReply(seq, 'ack', (msg) => {
            if (acked.has(peer.address)) return;
            acked.add(peer.address);
            logger.info(
              { mesh: 'ack', peer: peer.address, peerId: msg.id, afterMs: Date.now() - started },
              'leave notice acked',
            );
            if (done()) finish();
          }),
        );
      }
      if (done()) return finish();
      const left = deadline - Date.now();
      if (left <= 0) return finish();
      timer = setTimeout(round, Math.min(LEAVE_RETRY_MS, left));
    };
    round();
  });

  for (const cancel of cancels) cancel();
  const missing = targets.filter((p) => !acked.has(p.address)).map((p) => p.address);
  const tookMs = Date.now() - started;
  const fields = { mesh: 'leave', noticesSent: targets.length, acked: acked.size, packets, tookMs, ...(missing.length ? { missing } : {}) };
  if (missing.length) logger.warn(fields, 'leave notices sent; some peers did not ack');
  else logger.info(fields, 'leave notices sent; every peer acked');
  return { noticesSent: targets.length, acked: acked.size };
}
