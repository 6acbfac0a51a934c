/**
 * `GET /events`: Server-Sent Events. One `lifecycle` event per transition
 * and one `inspection` event per XState inspection event (snapshots, events,
 * actors), so a page or a script can follow the node live. `state` events
 * (the /state JSON plus the full state value) follow every transition and
 * tick while shutting down (src/admin/inspector/live-state.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InspectionEvent } from 'xstate';
import type { AdminContext } from './node-status.js';
import { stateView } from './state-view.js';
import { liveState, startStateTicker } from './inspector/live-state.js';
import { eventStreamStats, SSE_MAX_BUFFERED_BYTES } from './event-stream-stats.js';

const open = new Set<ServerResponse>();

let lastSlowWarning = -Infinity;

/**
 * Writes unless the client has left SSE_MAX_BUFFERED_BYTES unread: then the
 * stream is cut (a browser's EventSource reconnects and starts afresh),
 * counted, and logged at most once per 10 s. Returns whether it wrote.
 */
function writeOrDrop(res: ServerResponse, text: string, admin?: AdminContext): boolean {
  // Actors keep reporting while the chart winds down, after `stopped` ended the stream.
  if (res.writableEnded || res.destroyed) return false;
  if (res.writableLength > SSE_MAX_BUFFERED_BYTES) {
    eventStreamStats.slowDisconnected++;
    const now = Date.now();
    if (admin && now - lastSlowWarning >= 10_000) {
      lastSlowWarning = now;
      admin.logger.warn(
        { unreadBytes: res.writableLength, limitBytes: SSE_MAX_BUFFERED_BYTES, slowDisconnected: eventStreamStats.slowDisconnected },
        'event stream client reads too slowly: disconnected',
      );
    }
    res.destroy();
    return false;
  }
  res.write(text);
  return true;
}

function send(res: ServerResponse, event: string, data: unknown, admin?: AdminContext): void {
  writeOrDrop(res, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`, admin);
}

/** Reduces an inspection event to JSON-safe data (actor refs become ids). */
export function describeInspection(e: InspectionEvent): Record<string, unknown> {
  const base = { type: e.type, actorId: (e.actorRef as { id?: string }).id ?? null, sessionId: e.actorRef.sessionId, rootId: e.rootId, at: Date.now() };
  switch (e.type) {
    case '@xstate.snapshot': {
      const snap = e.snapshot as unknown as { value?: unknown; status?: string };
      return { ...base, event: e.event, value: snap.value ?? null, status: snap.status ?? null };
    }
    case '@xstate.event':
      return { ...base, event: e.event, source: (e.sourceRef as { id?: string } | undefined)?.id ?? null };
    case '@xstate.actor':
      return base;
    case '@xstate.microstep':
      return { ...base, event: e.event };
    case '@xstate.action':
      return { ...base, action: { type: e.action.type } };
    default:
      return base;
  }
}

export function openEventStream(req: IncomingMessage, res: ServerResponse, admin: AdminContext): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 1000\n\n');
  send(res, 'hello', stateView(admin), admin);
  open.add(res);
  eventStreamStats.open = open.size;
  const unsubscribe = admin.status.lifecycle.subscribe({
    transition: (t) => send(res, 'lifecycle', t, admin),
    inspection: (e) => send(res, 'inspection', describeInspection(e), admin),
  });
  // Periodic `state` events (in-flight, countdown) for the inspector page.
  const stopTicker = startStateTicker(admin, (event, data) => send(res, event, data, admin));
  const heartbeat = setInterval(() => writeOrDrop(res, ': keep-alive\n\n', admin), 15_000);
  heartbeat.unref();
  const close = () => {
    clearInterval(heartbeat);
    stopTicker();
    unsubscribe();
    open.delete(res);
    eventStreamStats.open = open.size;
  };
  req.on('close', close);
  res.on('close', close);
}

/** Last words to every open stream before the admin listener closes. */
export function endEventStreams(admin: AdminContext): void {
  for (const res of open) {
    send(res, 'stopped', liveState(admin));
    res.end();
  }
  open.clear();
  eventStreamStats.open = 0;
}
