/**
 * The admin endpoints. Each route is a small function; the inspector's
 * routes (inspector-routes.ts) are merged with these by the admin area.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeRuntime } from '../runtime.js';
import { peersPageOf, stateView } from './state-view.js';
import { openEventStream } from './event-stream.js';
import { sendJson } from '../http/json-response.js';

export type AdminRoute = (req: IncomingMessage, res: ServerResponse, rt: NodeRuntime) => void | Promise<void>;

export const coreRoutes: Record<string, AdminRoute> = {
  '/healthz': (_req, res, rt) => {
    const stopped = rt.lifecycle.names().includes('stopped');
    sendJson(res, stopped ? 503 : 200, { status: stopped ? 'stopped' : 'alive', lifecycle: rt.lifecycle.label() });
  },
  '/readyz': (_req, res, rt) => {
    const ready = rt.lifecycle.isServing();
    sendJson(res, ready ? 200 : 503, { ready, lifecycle: rt.lifecycle.label() });
  },
  '/state': (req, res, rt) => {
    const page = peersPageOf(new URL(req.url ?? '/', 'http://admin').searchParams);
    if (typeof page === 'string') return sendJson(res, 400, { error: page });
    sendJson(res, 200, stateView(rt, page));
  },
  '/metrics': async (_req, res, rt) => {
    const body = await rt.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': rt.metrics.registry.contentType, 'cache-control': 'no-store' });
    res.end(body);
  },
  '/events': (req, res, rt) => openEventStream(req, res, rt),
};

/** Paths answered without a token even when the admin listener is exposed. */
export const PUBLIC_PATHS = new Set(['/healthz', '/readyz']);
