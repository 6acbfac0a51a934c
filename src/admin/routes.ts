/**
 * The admin endpoints. Each route is a small function; areas with pages of
 * their own (the inspector) add routes through `extraRoutes`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeRuntime } from '../runtime.js';
import { peersPageOf, stateView } from './state-view.js';
import { openEventStream } from './event-stream.js';

export type AdminRoute = (req: IncomingMessage, res: ServerResponse, rt: NodeRuntime) => void | Promise<void>;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export const coreRoutes: Record<string, AdminRoute> = {
  '/healthz': (_req, res, rt) => {
    const stopped = rt.lifecycle.names().includes('stopped');
    json(res, stopped ? 503 : 200, { status: stopped ? 'stopped' : 'alive', lifecycle: rt.lifecycle.label() });
  },
  '/readyz': (_req, res, rt) => {
    const ready = rt.lifecycle.isServing();
    json(res, ready ? 200 : 503, { ready, lifecycle: rt.lifecycle.label() });
  },
  '/state': (req, res, rt) => {
    const page = peersPageOf(new URL(req.url ?? '/', 'http://admin').searchParams);
    if (typeof page === 'string') return json(res, 400, { error: page });
    json(res, 200, stateView(rt, page));
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

export { json };
