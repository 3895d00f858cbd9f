/**
 * The environment variables `adamant worker` reads its options from (commander's `Option.env`),
 * as container users expect; a flag on the command line wins over its variable. `adamant train`
 * clears them for the workers it starts, which get their settings from its own flags.
 */
export const WORKER_ENV = {
  connect: 'ADAMANT_CONNECT',
  token: 'ADAMANT_TOKEN',
  tokenFile: 'ADAMANT_TOKEN_FILE',
  backend: 'ADAMANT_BACKEND',
  gemm: 'ADAMANT_GEMM',
  maxParams: 'ADAMANT_MAX_PARAMS',
  handshakeTimeout: 'ADAMANT_HANDSHAKE_TIMEOUT',
  connectTimeout: 'ADAMANT_CONNECT_TIMEOUT',
  reconnectTimeout: 'ADAMANT_RECONNECT_TIMEOUT',
  tlsCa: 'ADAMANT_TLS_CA',
  tlsFingerprint: 'ADAMANT_TLS_FINGERPRINT',
  logLevel: 'ADAMANT_LOG_LEVEL',
  logJson: 'ADAMANT_LOG_JSON',
} as const;

/** `env` without the worker's option variables. */
export function withoutWorkerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const names = new Set<string>(Object.values(WORKER_ENV));
  return Object.fromEntries(Object.entries(env).filter(([name]) => !names.has(name)));
}
