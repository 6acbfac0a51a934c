/**
 * The admin listener, invoked on the chart's root: it binds while the node
 * starts and closes only when the node has stopped.
 */
import http from 'node:http';
import net from 'node:net';
import { fromCallback } from 'xstate';
import type { AnyEventObject } from 'xstate';
import { formatHostPort, parseHostPort } from '../config/host-port.js';
import type { LifecycleEvent } from '../../machines/events.js';
import type { Shared } from '../runtime.js';
import type { AdminContext, NodeStatus } from './node-status.js';
import type { RestartState } from '../restart/restart-state.js';
import type { AreaProvision } from '../areas/provision.js';
import { bearerMatches, exchangeTokenForCookie } from './auth.js';
import { isLoopbackAddress, loopbackHostAllowed } from './host-guard.js';
import { endEventStreams } from './event-stream.js';
import { coreRoutes, PUBLIC_PATHS } from './routes.js';
import { sendJson } from '../http/json-response.js';
import type { AdminRoute } from './routes.js';
import { registerLiveMetrics } from '../observability/live-metrics.js';
import { inspectorRoutes } from './inspector-routes.js';
import { RateLimitedLog } from '../log/rate-limited-log.js';

/** One line per kind per 10 s: a client repeating a refused request must not flood the log. */
const refusals = new RateLimitedLog(10_000);

/** `status` is the node as the admin may read it; `restart` passes the admin listener on at a hot restart. */
export function createAdminArea(shared: Shared, status: NodeStatus, restart: RestartState): AreaProvision {
  const admin: AdminContext = { ...shared, status };
  registerLiveMetrics(admin);
  const routes: Record<string, AdminRoute> = { ...coreRoutes, ...inspectorRoutes };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (admin.config.adminToken && exchangeTokenForCookie(req, res, path, admin.config.adminToken)) return;
    if (admin.config.adminToken && !PUBLIC_PATHS.has(path) && !bearerMatches(req, admin.config.adminToken)) {
      res.setHeader('www-authenticate', 'Bearer');
      return sendJson(res, 401, { error: 'admin token required' });
    }
    if (!admin.config.adminToken && !PUBLIC_PATHS.has(path) && !loopbackHostAllowed(req)) {
      refusals.hit('host', (suppressed) =>
        admin.logger.warn({ host: String(req.headers.host).slice(0, 100), path, suppressed }, 'admin request with a non-loopback Host refused'),
      );
      return sendJson(res, 403, { error: 'without --admin-token the admin answers only Host localhost or a loopback address' });
    }
    // Handed over (hot restart): kept-alive admin clients move to the successor.
    if (restart.released) res.setHeader('connection', 'close');
    const route = routes[path];
    if (!route) return sendJson(res, 404, { error: `no such admin path: ${path}` });
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'GET only' });
    Promise.resolve(route(req, res, admin)).catch((error: unknown) => {
      admin.logger.error({ err: error, path }, 'admin route failed');
      sendJson(res, 500, { error: 'internal error' });
    });
  };

  const adminServer = fromCallback<AnyEventObject>(({ sendBack }) => {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 5_000;
    const { host, port } = parseHostPort(admin.config.admin);
    server.once('error', (error: NodeJS.ErrnoException) => {
      admin.logger.error({ err: error, admin: admin.config.admin, code: error.code }, 'admin listener failed');
      sendBack({ type: 'ADMIN.FAILED', error: `admin listener ${admin.config.admin}: ${error.code ?? error.message}` } satisfies LifecycleEvent);
    });
    const onListening = () => {
      const addr = server.address();
      const bound = typeof addr === 'object' && addr ? formatHostPort({ host: addr.address, port: addr.port }) : admin.config.admin;
      // The name given may resolve anywhere: judge the socket actually bound.
      if (!admin.config.adminToken && typeof addr === 'object' && addr && !isLoopbackAddress(addr.address)) {
        server.close();
        const error = `admin listener ${admin.config.admin} bound ${bound}, which is not loopback: --admin-token is required`;
        admin.logger.error({ admin: admin.config.admin, bound }, 'admin listener is not on loopback: --admin-token is required');
        sendBack({ type: 'ADMIN.FAILED', error } satisfies LifecycleEvent);
        return;
      }
      sendBack({ type: 'ADMIN.LISTENING', address: bound } satisfies LifecycleEvent);
      admin.logger.info({ admin: bound, url: `http://${bound}/` }, 'admin listening');
    };
    // Hot restart: the passed listener in a successor; the live one is offered to the next.
    if (restart.inherited.admin) server.listen(restart.inherited.admin, onListening);
    else server.listen(port, host, onListening);
    restart.register('admin', server);
    // Once the successor serves, new admin connections go to it only.
    const unrelease = restart.onRelease(() => {
      if (server.listening) net.Server.prototype.close.call(server);
    });
    return () => {
      unrelease();
      endEventStreams(admin);
      server.close();
      server.closeAllConnections();
    };
  });
  return { actors: { adminServer } };
}
