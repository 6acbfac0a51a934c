/**
 * Structured JSON logs on stdout (pino). One logger for the process; modules
 * take a child with their component name so every line says where it came from.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, nodeId: string): Logger {
  return pino({
    level,
    base: { nodeId },
    timestamp: pino.stdTimeFunctions.epochTime,
  });
}
