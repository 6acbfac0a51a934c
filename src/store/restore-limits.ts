/**
 * Bounds on what a node restores from its state file (docs/operations.md,
 * "Limits"). A state file is input: a crafted or runaway one must not turn
 * into a 10 MB log line, a 4 s event-loop stall at every snapshot or a
 * 129 MB `/state`. Rows beyond these bounds are not restored and are
 * reported; the file keeps them (a copy is made before the node's first
 * snapshot replaces them, see open-store.ts).
 */

/** Peers restored at most (the most recently seen first). A mesh is tens to hundreds of nodes. */
export const MAX_RESTORED_PEERS = 10_000;
/** Breakers restored at most (one per upstream or peer target). */
export const MAX_RESTORED_BREAKERS = 10_000;
/** `host:port` of a peer: a DNS name is at most 253 characters. */
export const MAX_ADDRESS_LENGTH = 300;
/** A peer's node id (ids are `<hostname>-<port>` by default). */
export const MAX_PEER_ID_LENGTH = 256;
/** A breaker's target: an upstream URL or a peer address. */
export const MAX_TARGET_LENGTH = 2_048;
/** A breaker's serialised library state (a few dozen bytes in practice). */
export const MAX_BREAKER_DATA_LENGTH = 16_384;
/** The JSON list of signals of one shutdown record. */
export const MAX_SIGNALS_LENGTH = 16_384;
/** Skipped rows named one by one in the report; the rest are only counted. */
export const MAX_SKIPPED_LISTED = 20;
/** A value quoted in a report is cut to this many characters. */
export const QUOTE_LENGTH = 80;

/** A value safe to put in a log line: cut to QUOTE_LENGTH characters. */
export function quote(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  return s.length > QUOTE_LENGTH ? `${s.slice(0, QUOTE_LENGTH)}…(${s.length} chars)` : s;
}
