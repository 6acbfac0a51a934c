/**
 * OS signals become chart events; the chart decides what they mean (first
 * signal: graceful shutdown; second: skip the rest of the drain).
 */
import type { Logger } from './log/logger.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export function forwardSignals(send: (event: { type: 'SHUTDOWN'; signal: string; at: number }) => void, logger: Logger): () => void {
  let count = 0;
  const handlers = SIGNALS.map((signal) => {
    const handler = () => {
      count++;
      logger.info({ signal, count }, count === 1 ? `${signal} received: shutting down` : `${signal} received again`);
      send({ type: 'SHUTDOWN', signal, at: Date.now() });
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
