/**
 * Routes of the live inspector: the page, its bundled script and
 * the chart's definition. All of it is served by this admin listener, so the
 * page works with no network beyond it.
 */
import type { ServerResponse } from 'node:http';
import { lifecycleMachine } from '../../machines/lifecycle.js';
import type { AdminRoute } from './routes.js';
import { sendJson } from '../http/json-response.js';
import { describeMachine } from './inspector/machine-graph.js';
import type { ChartNode } from './inspector/machine-graph.js';
import { liveState } from './inspector/live-state.js';
import { renderInspectorPage } from './inspector/page-html.js';
import { loadClientScript } from './inspector/client-asset.js';

/** Only this origin: the page must never reach out (and a CSP makes sure). */
const CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

let chart: ChartNode | null = null;
let reportedMissingScript = false;

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': CSP,
  });
  res.end(body);
}

const page: AdminRoute = (_req, res, admin) => send(res, 200, 'text/html; charset=utf-8', renderInspectorPage(liveState(admin)));

export const inspectorRoutes: Record<string, AdminRoute> = {
  '/inspect': page,
  '/inspect/': page,
  '/inspect/machine.json': (_req, res) => {
    chart ??= describeMachine(lifecycleMachine);
    sendJson(res, 200, chart);
  },
  '/inspect/client.js': (_req, res, admin) => {
    const script = loadClientScript();
    if (script instanceof Error) {
      if (!reportedMissingScript) admin.logger.error({ error: script.message }, 'inspector page script missing');
      reportedMissingScript = true;
      return sendJson(res, 404, { error: script.message });
    }
    send(res, 200, 'text/javascript; charset=utf-8', script);
  },
};
