/**
 * Admin authentication when the listener is bound off loopback: a bearer
 * token, or — for a browser, whose EventSource cannot send headers — the same
 * token in an HttpOnly cookie, set once by `GET /inspect?token=…`.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const TOKEN_COOKIE = 'graceful_edge_admin';

function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

export function bearerMatches(req: IncomingMessage, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (match && sameSecret(match[1]!.trim(), token)) return true;
  const cookie = cookieValue(req, TOKEN_COOKIE);
  return cookie !== null && sameSecret(cookie, token);
}

/**
 * `GET /inspect?token=…` with the right token: set the cookie and redirect to
 * the page without the token in its address (it would stay in history).
 * Returns true when it answered.
 */
export function exchangeTokenForCookie(req: IncomingMessage, res: ServerResponse, path: string, token: string): boolean {
  if (path !== '/inspect') return false;
  const given = new URL(req.url ?? '/', 'http://admin').searchParams.get('token');
  if (given === null || !sameSecret(given, token)) return false;
  res.writeHead(303, {
    location: '/inspect',
    'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
    'cache-control': 'no-store',
  });
  res.end();
  return true;
}
