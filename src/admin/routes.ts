/**
 * The admin endpoints. Each route is a small function; the inspector's
 * routes (inspector-routes.ts) are merged with these by the admin area.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdminContext } from './node-status.js';
import { peersPageOf, stateView } from './state-view.js';
import { openEventStream } from './event-stream.js';
import { sendJson } from '../http/json-response.js';

export type AdminRoute = (req: IncomingMessage, res: ServerResponse, admin: AdminContext) => void | Promise<void>;

export const coreRoutes: Record<string, AdminRoute> = {
  '/healthz': (_req, res, admin) => {
    const stopped = admin.status.lifecycle.names().includes('stopped');
    sendJson(res, stopped ? 503 : 200, { status: stopped ? 'stopped' : 'alive', lifecycle: admin.status.lifecycle.label() });
  },
  '/readyz': (_req, res, admin) => {
    const ready = admin.status.lifecycle.isServing();
    sendJson(res, ready ? 200 : 503, { ready, lifecycle: admin.status.lifecycle.label() });
  },
  '/state': (req, res, admin) => {
    const page = peersPageOf(new URL(req.url ?? '/', 'http://admin').searchParams);
    if (typeof page === 'string') return sendJson(res, 400, { error: page });
    sendJson(res, 200, stateView(admin, page));
  },
  '/metrics': async (_req, res, admin) => {
    const body = await admin.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': admin.metrics.registry.contentType, 'cache-control': 'no-store' });
    res.end(body);
  },
  '/events': (req, res, admin) => openEventStream(req, res, admin),
};

/** Paths answered without a token even when the admin listener is exposed. */
export const PUBLIC_PATHS = new Set(['/healthz', '/readyz']);
