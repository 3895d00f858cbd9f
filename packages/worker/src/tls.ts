import { isIP } from 'node:net';
import tls from 'node:tls';
import { ConnectError } from '@adamant/core';

/**
 * How a worker trusts a `wss://` coordinator. With neither field, the system CAs and the host name
 * decide, as for any TLS client.
 */
export interface WorkerTls {
  /** A CA certificate (PEM) to trust besides the system CAs. */
  ca?: string;
  /**
   * The coordinator certificate's SHA-256 fingerprint, as `AB:CD:…` (see `parseFingerprint`).
   * When set, only this pin is checked: not the CA chain, nor the host name.
   */
  fingerprint?: string;
}

/**
 * The certificate of a `wss://` coordinator could not be trusted. Not transient: retrying cannot
 * help, so it is never retried like a refused connection.
 */
export class CertificateError extends ConnectError {
  override name = 'CertificateError';
}

const FINGERPRINT_HEX = /^[0-9a-f]{64}$/;

/**
 * Reads a SHA-256 fingerprint written as `sha256:AB:CD:…` (how the coordinator prints it), `AB:CD:…`
 * or 64 plain hex digits, in either case, into Node's `fingerprint256` form (`AB:CD:…`, upper case).
 * Returns undefined for anything else.
 */
export function parseFingerprint(text: string): string | undefined {
  const hex = text.trim().replace(/^sha256:/i, '').replaceAll(':', '').toLowerCase();
  if (!FINGERPRINT_HEX.test(hex)) return undefined;
  return hex.toUpperCase().match(/../g)!.join(':');
}

/** The fingerprint as the coordinator's banner prints it and `--tls-fingerprint` takes it. */
export const showFingerprint = (fingerprint256: string): string => `sha256:${fingerprint256}`;

/** Node's codes for a certificate that fails verification, and what each means to a user. */
const UNTRUSTED: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in its chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate signed by an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate signed by an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate signed by an unknown CA',
  CERT_UNTRUSTED: 'untrusted certificate',
  CERT_SIGNATURE_FAILURE: 'certificate signature does not verify',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  INVALID_CA: 'invalid CA certificate',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not name this host',
};

/** What to do about an untrusted certificate, given what this worker was told to trust. */
function trustHint(err: Error & { code?: string; reason?: string }, trust: WorkerTls): string {
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${err.reason ?? 'another host'}: connect by a name or address it lists, or pass --tls-fingerprint`;
  return trust.ca ? 'is --tls-ca the CA that signed it?' : 'pass --tls-ca or --tls-fingerprint';
}

/**
 * Opens a TLS connection to the coordinator and verifies its certificate before resolving, so the
 * caller (the WebSocket upgrade) writes nothing until the peer is trusted. With a pin, Node's own
 * checks are off (`rejectUnauthorized: false`; its `checkServerIdentity` would be skipped then, or
 * on a chain error) and the pin is compared on `secureConnect`, before anything is written.
 * Rejects with a CertificateError for an untrusted certificate, with the socket's error otherwise.
 */
export function connectTls(url: string, trust: WorkerTls, timeoutMs?: number): Promise<tls.TLSSocket> {
  const { hostname, port } = new URL(url);
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const pinned = trust.fingerprint !== undefined;
  const socket = tls.connect({
    host,
    port: Number(port || 443),
    // SNI takes host names only; with an IP the certificate is matched against its IP SANs.
    servername: isIP(host) ? '' : host,
    ...(pinned ? { rejectUnauthorized: false } : { rejectUnauthorized: true, ...(trust.ca ? { ca: [...tls.rootCertificates, trust.ca] } : {}) }),
  });
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    const onTimeout = () => fail(Object.assign(new Error('TLS handshake timed out'), { code: 'ETIMEDOUT' }));
    if (timeoutMs) socket.setTimeout(timeoutMs, onTimeout);
    // Kept after the handshake: an error before the WebSocket adds its listeners must not go unhandled.
    socket.on('error', (err: Error & { code?: string }) => {
      const why = err.code ? UNTRUSTED[err.code] : undefined;
      if (why) fail(new CertificateError(`cannot trust coordinator ${url}: ${why}; ${trustHint(err, trust)}`, { cause: err }));
      else fail(err);
    });
    socket.once('secureConnect', () => {
      // The WebSocket's own handshake timeout takes over from here.
      socket.setTimeout(0);
      socket.off('timeout', onTimeout);
      if (pinned) {
        const seen = socket.getPeerCertificate().fingerprint256;
        if (seen !== trust.fingerprint) {
          return fail(new CertificateError(`cannot trust coordinator ${url}: certificate fingerprint ${showFingerprint(seen)} does not match --tls-fingerprint ${showFingerprint(trust.fingerprint!)}`));
        }
      }
      resolve(socket);
    });
  });
}
