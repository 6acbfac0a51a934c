/** The path to request on a target: its base path (upstream URL) + the client's path. */
export function targetPath(base: URL, requestUrl: string | undefined): string {
  let path = requestUrl || '/';
  // absolute-form (`GET http://host/x HTTP/1.1`) is legal for proxies; keep path + query.
  if (!path.startsWith('/')) {
    try {
      const u = new URL(path);
      path = `${u.pathname}${u.search}`;
    } catch {
      path = `/${path}`;
    }
  }
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  return `${prefix}${path}`;
}
