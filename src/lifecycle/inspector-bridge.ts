/**
 * Optional: mirror inspection events to a Stately inspector over WebSocket
 * (`--inspector-url`). PLACEHOLDER until issue 4 lands; nothing depends on it.
 */
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../log/logger.js';

export interface InspectorBridge {
  inspect(event: InspectionEvent): void;
  stop(): void;
}

export function createInspectorBridge(url: string | null, logger: Logger): InspectorBridge | null {
  if (!url) return null;
  logger.warn({ url }, 'the Stately inspector bridge is not available in this build');
  return null;
}
