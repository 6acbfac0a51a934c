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

/** The path to request on a target: its base path (upstream URL) + the client's path. */
export function targetPath(base: URL, requestUrl: string | undefined): string {
  let path = requestUrl || '/';
  // absolute-form (`GET http://host/x HTTP/1.1`) is legal for proxies; keep path + query.
  if (path.charCodeAt(0) !== 47 /* '/' */) {
    try {
      const u = new URL(path);
      path = `${u.pathname}${u.search}`;
    } catch {
      path = `/${path}`;
    }
  }
  const { prefix } = baseOf(base);
  return prefix === '' ? path : `${prefix}${path}`;
}
