/** Proxy area. PLACEHOLDER: answers 503 "no target" and obeys the drain commands. */
import http from 'node:http';
import { fromCallback } from 'xstate';
import type { LifecycleEvent, ProxyCommand } from '../../machines/events.js';
import { formatHostPort, parseHostPort } from '../config/host-port.js';
import type { NodeRuntime } from '../runtime.js';
import type { AreaProvision } from '../lifecycle/provided.js';

export function createProxyArea(rt: NodeRuntime): AreaProvision {
  const proxyServer = fromCallback<ProxyCommand>(({ sendBack, receive }) => {
    const server = http.createServer((req, res) => {
      const done = rt.tracker.begin();
      res.on('close', done);
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'no target is configured' }));
    });
    const { host, port } = parseHostPort(rt.config.listen);
    server.once('error', (e: NodeJS.ErrnoException) =>
      sendBack({ type: 'PROXY.FAILED', error: `proxy listener ${rt.config.listen}: ${e.code}` } satisfies LifecycleEvent),
    );
    server.listen(port, host, () => {
      const a = server.address() as { address: string; port: number };
      rt.bound.proxy = formatHostPort({ host: a.address, port: a.port });
      rt.logger.info({ proxy: rt.bound.proxy }, `proxy listening on http://${rt.bound.proxy}/`);
      sendBack({ type: 'PROXY.LISTENING', address: rt.bound.proxy } satisfies LifecycleEvent);
    });
    receive((cmd) => {
      if (cmd.type === 'PROXY.STOP_ACCEPTING') {
        server.close();
        server.closeIdleConnections();
        rt.tracker.whenIdle(() => sendBack({ type: 'PROXY.DRAINED', drained: rt.tracker.completedSinceShutdown }));
      } else if (cmd.type === 'PROXY.CUT') {
        const cut = rt.tracker.count;
        server.closeAllConnections();
        sendBack({ type: 'PROXY.CUT_DONE', drained: rt.tracker.completedSinceShutdown, cut });
      } else if (cmd.type === 'PROXY.SHUTDOWN_STARTED') {
        rt.tracker.shuttingDown = true;
      }
    });
    return () => {
      server.close();
      server.closeAllConnections();
    };
  });
  return { actors: { proxyServer } };
}
