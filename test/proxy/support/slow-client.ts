/** A streaming GET on its own connection: resolves `started` at the first body byte. */
import http from 'node:http';

export interface SlowRequest {
  started: Promise<void>;
  done: Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders; complete: boolean; error: string | null }>;
}

export function slowGet(url: string): SlowRequest {
  let markStarted!: () => void;
  const started = new Promise<void>((r) => (markStarted = r));
  const done = new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders; complete: boolean; error: string | null }>((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        markStarted();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, complete: res.complete, error: null }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, complete: false, error: e.message }));
    });
    req.on('error', (e) => resolve({ status: 0, body: '', headers: {}, complete: false, error: e.message }));
  });
  return { started, done };
}
