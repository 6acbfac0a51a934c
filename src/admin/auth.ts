/** Bearer-token check for the admin listener when it is bound off loopback. */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function bearerMatches(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1]!.trim());
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
