/**
 * A target URL's origin and base path, computed once per URL: `URL#origin`
 * and `#pathname` build new strings on every read, and the engines asked for
 * them on every request.
 */
const bases = new WeakMap<URL, { origin: string; prefix: string }>();

function baseOf(url: URL): { origin: string; prefix: string } {
  let b = bases.get(url);
  if (!b) {
    const p = url.pathname;
    b = { origin: url.origin, prefix: p.endsWith('/') ? p.slice(0, -1) : p };
    bases.set(url, b);
  }
  return b;
}

/** `http://host:port` of a target, cached. */
export function targetOrigin(url: URL): string {
  return baseOf(url).origin;
}

/**
 * The path to request on a target: its base path (upstream URL) + the client's
 * request target, byte for byte. A proxy must not rewrite the path or query
 * (RFC 9110 §7.7): no URL parser touches it (one would resolve dot segments and
 * re-encode). `OPTIONS *` stays `*` (RFC 9112 §3.2.4); an absolute-form target
 * (`GET http://host/x?y HTTP/1.1`, legal for proxies, RFC 9112 §3.2.2) becomes
 * the origin-form made of its own path and query, `/` when its path is empty.
 */
export function targetPath(base: URL, requestUrl: string | undefined): string {
  let path = requestUrl || '/';
  if (path.charCodeAt(0) !== 47 /* '/' */) {
    if (path === '*') return '*';
    path = originFormOf(path);
  }
  const { prefix } = baseOf(base);
  return prefix === '' ? path : `${prefix}${path}`;
}

/** The authority of an absolute-form target (`http://user@host:8080/x` → `host:8080`), or null. */
export function absoluteFormAuthority(target: string): string | null {
  const s = target.indexOf('://');
  if (s < 0) return null;
  const end = authorityEnd(target, s + 3);
  const authority = target.slice(s + 3, end);
  const at = authority.lastIndexOf('@');
  return at < 0 ? authority : authority.slice(at + 1);
}

function authorityEnd(target: string, from: number): number {
  let i = from;
  while (i < target.length) {
    const c = target.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break;
    i++;
  }
  return i;
}

function originFormOf(target: string): string {
  const s = target.indexOf('://');
  if (s < 0) return `/${target}`;
  let rest = target.slice(authorityEnd(target, s + 3));
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  return rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
}
