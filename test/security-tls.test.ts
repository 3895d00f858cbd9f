import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCertificates, type TestCertificates } from './support/certificates.js';
import { type CliResult, housingJob, runCli, startCli, tempDir, waitFor } from './support/cli.js';
import { weightBytes } from './support/reference.js';
import { sharedRun } from './support/sharedRuns.js';

/**
 * Issue 9, item 3: `adamant coordinator --tls-cert --tls-key` serves wss://, and a worker trusts
 * it only through `--tls-ca` or a pinned `--tls-fingerprint`. The test makes its own CA and
 * certificates for 127.0.0.1, trains over wss:// both ways (bitwise equal to a local run), and
 * checks that an untrusted certificate is refused before a single byte of the job is sent.
 */
describe('TLS between the coordinator and its workers (issue 9)', () => {
  const tmp = tempDir();
  let configPath: string;
  let certs: TestCertificates;
  let baselineDir: string;
  let stop: (() => void)[] = [];

  beforeAll(async () => {
    certs = makeTestCertificates(tmp.dir);
    configPath = housingJob(tmp.dir, { epochs: 2 });
    baselineDir = await sharedRun(configPath, ['--workers', '1']);
  });
  afterEach(() => {
    for (const f of stop) f();
    stop = [];
  });
  afterAll(() => tmp.cleanup());

  /** A coordinator over TLS; its banner gives the wss:// URL and the pin a worker should use. */
  async function startTlsCoordinator(out: string, cert: string, key: string) {
    const started = await startCli(
      ['coordinator', configPath, '--port', '0', '--host', '127.0.0.1', '--token', 'tok', '--out', out, '--tls-cert', cert, '--tls-key', key],
      /--connect (wss:\/\/127\.0\.0\.1:\d+) --tls-fingerprint (sha256:[0-9A-F:]{95})\n/,
    );
    stop.push(() => started.child.kill('SIGKILL'));
    const exited = new Promise<number | null>((r) => started.child.on('exit', r));
    return { url: started.match[1]!, fingerprint: started.match[2]!, exited };
  }

  const worker = (url: string, ...tlsArgs: string[]) => runCli(['worker', '--connect', url, '--token', 'tok', ...tlsArgs], { timeoutMs: 120_000 });
  const lastLine = (result: CliResult) => result.stderr.trim().split('\n').at(-1);

  it('trains over wss:// with a certificate signed by the CA given as --tls-ca', async () => {
    const out = path.join(tmp.dir, 'with-ca');
    const coordinator = await startTlsCoordinator(out, certs.signedCert, certs.signedKey);
    const result = await worker(coordinator.url, '--tls-ca', certs.ca);
    expect(result.code, result.stderr).toBe(0);
    expect(await coordinator.exited).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baselineDir))).toBe(true);
  });

  it('trains over wss:// with a self-signed certificate pinned by the fingerprint the banner prints', async () => {
    const out = path.join(tmp.dir, 'pinned');
    const coordinator = await startTlsCoordinator(out, certs.selfSignedCert, certs.selfSignedKey);
    expect(coordinator.fingerprint).toBe(`sha256:${new X509Certificate(readFileSync(certs.selfSignedCert)).fingerprint256}`);
    const result = await worker(coordinator.url, '--tls-fingerprint', coordinator.fingerprint);
    expect(result.code, result.stderr).toBe(0);
    expect(await coordinator.exited).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baselineDir))).toBe(true);
  });

  it('a worker with neither option refuses a self-signed certificate, at once and naming why', async () => {
    const coordinator = await startTlsCoordinator(path.join(tmp.dir, 'refused'), certs.selfSignedCert, certs.selfSignedKey);
    const result = await worker(coordinator.url);
    expect(result.code).toBe(1);
    const url = coordinator.url.replaceAll('.', '\\.').replaceAll('/', '\\/');
    expect(lastLine(result)).toMatch(new RegExp(`^adamant: cannot trust coordinator ${url}: self-signed certificate; pass --tls-ca or --tls-fingerprint \\[E_CONNECT\\]$`));
    // The CA-signed certificate, without its CA, is refused too.
    const signed = await startTlsCoordinator(path.join(tmp.dir, 'refused-signed'), certs.signedCert, certs.signedKey);
    expect(lastLine(await worker(signed.url))).toMatch(/certificate signed by an unknown CA; pass --tls-ca or --tls-fingerprint \[E_CONNECT\]$/);
  });

  it('a worker refuses a certificate whose fingerprint is not the pinned one', async () => {
    const coordinator = await startTlsCoordinator(path.join(tmp.dir, 'wrong-pin'), certs.selfSignedCert, certs.selfSignedKey);
    const otherPin = new X509Certificate(readFileSync(certs.signedCert)).fingerprint256.replaceAll(':', '').toLowerCase();
    const result = await worker(coordinator.url, '--tls-fingerprint', otherPin);
    expect(result.code).toBe(1);
    expect(lastLine(result)).toContain(`certificate fingerprint ${coordinator.fingerprint} does not match --tls-fingerprint sha256:`);
    expect(lastLine(result)).toMatch(/\[E_CONNECT\]$/);
  });

  it('sends nothing, not even the upgrade request, to a server that fails the pin', async () => {
    // A bare TLS server that records what the worker writes once the handshake is done.
    const received: Buffer[] = [];
    let closed = 0;
    const server = tls.createServer({ cert: readFileSync(certs.selfSignedCert), key: readFileSync(certs.selfSignedKey) }, (socket) => {
      socket.on('data', (d: Buffer) => {
        received.push(d);
        socket.destroy();
      });
      socket.on('error', () => {});
    });
    // Counted on the TCP socket: a client that hangs up right after its handshake may leave the server's TLS side unfinished.
    server.on('connection', (raw) => raw.on('close', () => closed++));
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    stop.push(() => server.close());
    const url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const selfPin = new X509Certificate(readFileSync(certs.selfSignedCert)).fingerprint256;
    const otherPin = new X509Certificate(readFileSync(certs.signedCert)).fingerprint256;

    const wrong = await worker(url, '--tls-fingerprint', otherPin);
    expect(wrong.code).toBe(1);
    expect(lastLine(wrong)).toMatch(/does not match --tls-fingerprint/);
    await waitFor(() => closed === 1, 'the refused connection to close');
    expect(Buffer.concat(received).length).toBe(0);

    // The recorder works: with the right pin the same server gets the upgrade request.
    const right = await worker(url, '--tls-fingerprint', selfPin);
    expect(right.code).toBe(1);
    expect(Buffer.concat(received).toString('latin1')).toMatch(/^GET \/ HTTP\/1\.1\r\n/);
  });

  it('refuses half or unreadable TLS settings, and TLS options on a ws:// URL', async () => {
    const missing = path.join(tmp.dir, 'missing.pem');
    // Five short processes that exit before listening or connecting: they run side by side.
    const [half, unreadable, mismatched, onWs, badPin] = await Promise.all([
      runCli(['coordinator', configPath, '--port', '0', '--tls-cert', certs.signedCert]),
      runCli(['coordinator', configPath, '--port', '0', '--tls-cert', missing, '--tls-key', certs.signedKey]),
      runCli(['coordinator', configPath, '--port', '0', '--tls-cert', certs.signedCert, '--tls-key', certs.selfSignedKey]),
      runCli(['worker', '--connect', 'ws://127.0.0.1:9', '--tls-ca', certs.ca]),
      runCli(['worker', '--connect', 'wss://127.0.0.1:9', '--tls-fingerprint', 'sha1:AB:CD']),
    ]);
    expect(half.code).toBe(1);
    expect(lastLine(half)).toBe('adamant: --tls-cert needs --tls-key: the private key of that certificate [E_CONFIG]');
    expect(unreadable.code).toBe(1);
    expect(lastLine(unreadable)).toBe(`adamant: --tls-cert ${missing}: cannot read it (ENOENT) [E_CONFIG]`);
    expect(mismatched.code).toBe(1);
    expect(lastLine(mismatched)).toMatch(/^adamant: --tls-cert .* with --tls-key .*: .*\[E_CONFIG\]$/);

    expect(onWs.code).toBe(2);
    expect(onWs.stderr).toMatch(/--tls-ca and --tls-fingerprint need a wss:\/\/ coordinator URL/);
    expect(badPin.code).toBe(2);
    expect(badPin.stderr).toMatch(/is not a SHA-256 fingerprint/);
  });
});
