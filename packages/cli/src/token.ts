import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError, type Log } from '@adamant/core';

/** Where the shared token may come from on the command line. */
export interface TokenOptions {
  token?: string;
  tokenFile?: string;
}

/**
 * Reads a token file: its content less trailing line breaks. An empty or unreadable file is
 * E_CONFIG naming it; a file others may read gets a warning, since the token is the one secret
 * that keeps strangers' gradients out of the model.
 */
export function readTokenFile(file: string, log: Log): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--token-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  const token = text.replace(/[\r\n]+$/, '');
  if (token === '') throw new ConfigError(`--token-file ${file}: the file is empty; put the shared token in it`);
  const mode = statSync(file).mode;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    log.warn(`--token-file ${file} can be read by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  }
  return token;
}

/** The token given by `--token`, `--token-file` or `$ADAMANT_TOKEN` (in that order), if any. */
export function givenToken(options: TokenOptions, log: Log): string | undefined {
  if (options.token !== undefined && options.tokenFile !== undefined) throw new ConfigError('give --token or --token-file, not both');
  if (options.token !== undefined) {
    if (options.token === '') throw new ConfigError('--token is empty');
    return options.token;
  }
  if (options.tokenFile !== undefined) return readTokenFile(options.tokenFile, log);
  return process.env.ADAMANT_TOKEN || undefined;
}

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost): only this machine can connect. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIPv4(bare)) return bare.startsWith('127.');
  if (isIPv6(bare)) return bare === '::1' || /^::ffff:127\.\d+\.\d+\.\d+$/.test(bare) || /^(0{1,4}:){7}0{0,3}1$/.test(bare);
  return false;
}

/**
 * The coordinator's token: the one given, or, on a loopback address or with `--insecure`, a random
 * one to print (`madeUp`). Anywhere else a coordinator without a given token refuses to start:
 * whoever reads its banner, or its logs, would hold the key to the model.
 */
export function coordinatorToken(options: TokenOptions & { host: string; insecure?: boolean }, log: Log): { token: string; madeUp: boolean } {
  const token = givenToken(options, log);
  if (token !== undefined) return { token, madeUp: false };
  if (!isLoopback(options.host) && !options.insecure) {
    throw new ConfigError(
      `refusing to listen on ${options.host} without a token: anyone who can reach it could join and send gradients; give --token-file FILE (or --token, $ADAMANT_TOKEN), or --insecure to use a random token printed here`,
    );
  }
  return { token: randomBytes(16).toString('hex'), madeUp: true };
}
