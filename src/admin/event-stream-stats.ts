/**
 * Counters of `/events` for `/state` (`eventStreams`): a module of its own so
 * the state view can read them without importing the stream (which imports
 * the state view).
 */
export const eventStreamStats = {
  /** Streams open now. */
  open: 0,
  /** Streams cut because the client read too slowly (buffer over the limit). */
  slowDisconnected: 0,
};

/**
 * Bytes an SSE client may leave unread in the node's buffer before it is
 * disconnected. A state event is ~1–10 kB; 1 MiB is minutes of a live page
 * that is merely slow, yet 500 clients that never read cost at most 500 MiB
 * instead of growing without bound (52 MB in 10 s before this limit).
 */
export const SSE_MAX_BUFFERED_BYTES = 1024 * 1024;
