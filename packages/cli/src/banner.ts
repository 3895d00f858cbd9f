import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** `host` as it goes in a URL: IPv6 addresses in brackets. */
export function urlHost(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

/**
 * The addresses a worker can connect to for a coordinator listening on `host`: that host, or for
 * a wildcard (`0.0.0.0`, `::` also takes IPv4) every address of this machine's interfaces, those
 * other hosts can reach first (IPv4, then IPv6), loopback last. IPv6 link-local addresses are left
 * out: they need a zone id that differs from host to host.
 */
export function reachableAddresses(host: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string[] {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (!WILDCARDS.has(bare)) return [bare];
  const withIPv6 = bare === '::';
  const all = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((i) => (i.family === 'IPv4' || withIPv6) && !(i.family === 'IPv6' && i.address.toLowerCase().startsWith('fe80:')));
  const rank = (i: NetworkInterfaceInfo) => (i.internal ? 2 : 0) + (i.family === 'IPv6' ? 1 : 0);
  const sorted = all.sort((a, b) => rank(a) - rank(b)).map((i) => i.address);
  const unique = [...new Set(sorted)];
  return unique.length > 0 ? unique : [withIPv6 ? '::1' : '127.0.0.1'];
}

/** What a worker needs to know besides the address. */
export interface WorkerAccess {
  /** The token, printed only when this coordinator made it up: one the user gave stays out of logs. */
  madeUpToken?: string;
  /** The token file the coordinator read; workers are told to read theirs. */
  tokenFile?: string;
  /** The TLS certificate's SHA-256 pin (wss://). */
  fingerprint?: string;
}

/** The command that starts a worker for the coordinator at `address`:`port`, as it runs when pasted into a shell. */
export function workerCommand(address: string, port: number, access: WorkerAccess): string {
  const url = `${access.fingerprint ? 'wss' : 'ws'}://${urlHost(address)}:${port}`;
  const env = access.madeUpToken ? `ADAMANT_TOKEN=${access.madeUpToken} ` : access.tokenFile ? '' : 'ADAMANT_TOKEN=… ';
  const tls = access.fingerprint ? ` --tls-fingerprint ${access.fingerprint}` : '';
  const file = !access.madeUpToken && access.tokenFile ? ` --token-file ${access.tokenFile}` : '';
  return `${env}adamant worker --connect ${url}${tls}${file}`;
}

/** The coordinator's banner: where it listens, the command for the first address, and the other addresses. */
export function listeningBanner(options: { host: string; port: number; minWorkers: number; addresses: string[]; access: WorkerAccess }): string {
  const { host, port, minWorkers, addresses, access } = options;
  const scheme = access.fingerprint ? 'wss' : 'ws';
  const lines = [
    `adamant coordinator listening on ${host}:${port}${access.fingerprint ? ' (wss://)' : ''}; waiting for ${minWorkers} worker(s). Start each with:`,
    `  ${workerCommand(addresses[0] ?? host, port, access)}`,
  ];
  const others = addresses.slice(1).map((a) => `${scheme}://${urlHost(a)}:${port}`);
  if (others.length > 0) lines.push(`  (other addresses of this host: ${others.join(', ')})`);
  if (!access.madeUpToken && !access.tokenFile) lines.push('  (ADAMANT_TOKEN: the token this coordinator was given)');
  return `${lines.join('\n')}\n`;
}
