import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { ConfigError } from '@adamant/core';
import { showFingerprint } from '@adamant/worker';

/** A coordinator's TLS: the https server to hand to `coordinator.listen`, and the pin workers need. */
export interface CoordinatorTls {
  server: https.Server;
  /** `sha256:AB:CD:…`, as `adamant worker --tls-fingerprint` takes it. */
  fingerprint: string;
}

/** Reads a PEM file named by a command-line option; a missing or unreadable file is E_CONFIG naming both. */
function readPem(option: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${option} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
}

/** A PEM certificate (the first one of a chain) parsed, or E_CONFIG naming the option and file. */
function readCertificate(option: string, file: string): { pem: string; certificate: X509Certificate } {
  const pem = readPem(option, file);
  try {
    return { pem, certificate: new X509Certificate(pem) };
  } catch (err) {
    throw new ConfigError(`${option} ${file}: not a PEM certificate`, { cause: err });
  }
}

/**
 * `--tls-cert` and `--tls-key` (both or neither): an https server for the worker server to take the
 * upgrades and plain requests of. Undefined without them (plain ws://).
 */
export function createCoordinatorTls(options: { tlsCert?: string; tlsKey?: string }): CoordinatorTls | undefined {
  const { tlsCert, tlsKey } = options;
  if (tlsCert === undefined && tlsKey === undefined) return undefined;
  if (tlsCert === undefined) throw new ConfigError('--tls-key needs --tls-cert: the certificate to serve wss:// with');
  if (tlsKey === undefined) throw new ConfigError('--tls-cert needs --tls-key: the private key of that certificate');
  const { pem, certificate } = readCertificate('--tls-cert', tlsCert);
  const key = readPem('--tls-key', tlsKey);
  let server: https.Server;
  try {
    // No request listener: the coordinator answers plain HTTPS on it (/metrics, /healthz, /readyz, the dashboard).
    server = https.createServer({ cert: pem, key });
  } catch (err) {
    // A key that is not PEM, or not the certificate's: OpenSSL says which.
    throw new ConfigError(`--tls-cert ${tlsCert} with --tls-key ${tlsKey}: ${(err as Error).message}`, { cause: err });
  }
  return { server, fingerprint: showFingerprint(certificate.fingerprint256) };
}

/** `--tls-ca FILE` for a worker: the CA certificate (PEM) to trust besides the system CAs. */
export function readTrustedCa(file: string): string {
  return readCertificate('--tls-ca', file).pem;
}

/** Stops an https server handed to the coordinator, which leaves servers it did not create open. */
export async function closeServer(server: https.Server): Promise<void> {
  server.closeAllConnections();
  if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
}
