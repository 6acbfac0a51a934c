/**
 * SIGHUP asks for a hot restart. The signal-store helper owns the other
 * signals (src/signals.ts); this one only becomes the chart's RESTART event.
 */
import type { Logger } from '../log/logger.js';
import type { RestartState } from './restart-state.js';

export function forwardRestartSignal(
  send: (event: { type: 'RESTART'; signal: string; at: number }) => void,
  restart: RestartState,
  isServing: () => boolean,
  logger: Logger,
): () => void {
  const handler = () => {
    const serving = isServing();
    logger.info({ signal: 'SIGHUP', serving }, serving ? 'SIGHUP received: hot restart' : 'SIGHUP received: not serving, no hot restart');
    // Before the chart leaves `serving`: the serving actors' stop reads it
    // and keeps the node's presence (mDNS records, etcd lease) for the successor.
    if (serving) restart.presenceHeld = true;
    send({ type: 'RESTART', signal: 'SIGHUP', at: Date.now() });
  };
  process.on('SIGHUP', handler);
  return () => void process.off('SIGHUP', handler);
}
