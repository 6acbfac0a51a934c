/**
 * The messages between a running node and its successor over the
 * child_process IPC channel. Handles (listening sockets) travel as the
 * `sendHandle` of a `handle` message.
 */
import type { HandleName } from './restart-state.js';

/** Env var that marks a successor and carries its Takeover as JSON. */
export const TAKEOVER_ENV = 'GRACEFUL_EDGE_TAKEOVER';

export type ToSuccessor = { type: 'ge:handle'; name: HandleName } | { type: 'ge:handles-done'; names: HandleName[] };

export type ToPredecessor = { type: 'ge:hello'; pid: number } | { type: 'ge:ready'; pid: number; runId: number | null };

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
