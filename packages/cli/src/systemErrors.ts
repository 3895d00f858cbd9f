import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { AccessError, AddressInUseError, ConfigError } from '@adamant/core';

type SystemError = Error & { code?: string };

/**
 * A failed listen as a user error with a hint: a port another process holds (E_ADDRINUSE), a
 * port below 1024 or an address this process may not bind (E_ACCESS), an address this host does
 * not have. Anything else is returned as it is.
 */
export function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as SystemError)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new AddressInUseError(`port ${port} is in use on ${host}; pick another --port (0 picks a free one) or stop the other process`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new AccessError(
        `not allowed to listen on ${where}${port > 0 && port < 1024 ? `: ports below 1024 need root or CAP_NET_BIND_SERVICE; pick --port 1024 or higher` : ''}`,
        { cause: err },
      );
    case 'EADDRNOTAVAIL':
      return new ConfigError(`cannot listen on ${host}: this host has no such address; give --host one of its addresses, or 0.0.0.0 for all`, { cause: err });
    default:
      return err;
  }
}

/**
 * Makes sure the run directory can be written before training spends any time: creates it (and
 * its parents) and checks write access. E_ACCESS names the directory and why.
 */
export function ensureWritableDir(dir: string, what = '--out'): void {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    const code = (err as SystemError).code;
    const why =
      code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EROFS'
          ? 'read-only file system'
          : code === 'ENOTDIR' || code === 'EEXIST'
            ? 'a file is in the way'
            : ((err as Error).message ?? String(code));
    throw new AccessError(`${what} ${dir}: cannot write there (${why}); pick a directory you can write, e.g. --out ${path.join('runs', path.basename(dir) || 'run')}`, {
      cause: err,
    });
  }
}
