/**
 * The http(s):// URL of the coordinator's routes (`/` is the dashboard) at `host`, for a browser on
 * this host: an address that listens on every interface is shown as loopback.
 */
export function httpUrl(host: string, port: number, secure = false, path = '/'): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const shown = bare === '0.0.0.0' ? '127.0.0.1' : bare === '::' ? '[::1]' : bare.includes(':') ? `[${bare}]` : bare;
  return `${secure ? 'https' : 'http'}://${shown}:${port}${path}`;
}
