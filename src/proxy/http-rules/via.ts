/**
 * `Via` (RFC 9110 §7.6.3): a gateway must add itself to the Via of every
 * request it forwards, and Via is how intermediaries see a request loop. A
 * node whose upstream is, by mistake, its own listener (or a chain of nodes
 * whose upstreams lead back to the first) would otherwise forward one
 * request to itself until a header grew past the parser's limit (a 431 after
 * thousands of hops and as many connections). With Via, the second pass
 * through the node is answered `508 Loop Detected` (RFC 5842 §7.2) at once.
 *
 * The node's pseudonym in Via is its node id (unique in a mesh, a token by
 * the config schema). Mesh peers never loop this way: a request a peer
 * forwarded carries the hop header and is never forwarded to a peer again.
 */
import type http from 'node:http';
import type { Refusal } from './request-rules.js';

export const LOOP_DETECTED: Refusal = {
  status: 508,
  rule: 'loop-detected',
  rfc: 'RFC 9110 §7.6.3, RFC 5842 §7.2',
  error: 'loop detected: this request has already passed through this node',
};

/** This node's Via entry for a request received as `req` (`1.1 node-a`, `2 node-a`). */
export function viaEntry(req: http.IncomingMessage, nodeId: string): string {
  const version = req.httpVersionMajor === 2 ? '2' : `${req.httpVersionMajor}.${req.httpVersionMinor}`;
  return `${version} ${nodeId}`;
}

/** The request's Via with this node's entry appended. */
export function viaWith(existing: string | string[] | undefined, entry: string): string {
  if (existing === undefined || existing === '') return entry;
  return `${Array.isArray(existing) ? existing.join(', ') : existing}, ${entry}`;
}

/**
 * True when one of Via's entries was received by `nodeId`. Each entry is
 * `[protocol/]version received-by [comment]`; a comma inside a comment can
 * only make an entry look unlike ours, never like it.
 */
export function passedThrough(via: string | string[] | undefined, nodeId: string): boolean {
  if (via === undefined) return false;
  const text = Array.isArray(via) ? via.join(',') : via;
  // Cheap test first: almost every request that has a Via does not name us.
  if (!text.includes(nodeId)) return false;
  for (const element of text.split(',')) {
    const parts = element.trim().split(/[ \t]+/);
    if (parts[1] === nodeId) return true;
  }
  return false;
}
