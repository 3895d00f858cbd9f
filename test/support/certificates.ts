import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';

/** PEM files written for a test: a CA, a server certificate it signed, and a self-signed one. */
export interface TestCertificates {
  /** The CA's certificate, for `--tls-ca`. */
  ca: string;
  /** Signed by the CA, for 127.0.0.1 (an IP SAN), with its key. */
  signedCert: string;
  signedKey: string;
  /** Self-signed, for 127.0.0.1, with its key: no CA vouches for it. */
  selfSignedCert: string;
  selfSignedKey: string;
}

interface Keys {
  publicPem: string;
  privatePem: string;
}

// Node makes the keys (natively, fast); node-forge, which Node lacks an equivalent of, the certificates.
const rsaKeys = (): Keys => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
};

function certificate(subject: string, keys: Keys, serial: string, issuer: { name: string; keys: Keys } | undefined, extensions: object[]): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serial;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer([{ name: 'commonName', value: issuer?.name ?? subject }]);
  cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem((issuer?.keys ?? keys).privatePem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** What a server certificate for 127.0.0.1 carries: the IP in its SAN, which is what a client checks. */
const serverExtensions = [
  { name: 'basicConstraints', cA: false },
  { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
  { name: 'extKeyUsage', serverAuth: true },
  { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
];

/** Makes a fresh CA, a server certificate it signs, and a self-signed one, as PEM files in `dir`. */
export function makeTestCertificates(dir: string): TestCertificates {
  const caKeys = rsaKeys();
  const ca = { name: 'Adamant test CA', keys: caKeys };
  const caPem = certificate(ca.name, caKeys, '01', undefined, [
    { name: 'basicConstraints', critical: true, cA: true },
    { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
  ]);
  const signedKeys = rsaKeys();
  const signedPem = certificate('127.0.0.1', signedKeys, '02', ca, serverExtensions);
  const selfKeys = rsaKeys();
  const selfPem = certificate('127.0.0.1', selfKeys, '03', undefined, serverExtensions);
  const write = (name: string, pem: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, pem);
    return file;
  };
  return {
    ca: write('ca.pem', caPem),
    signedCert: write('signed-cert.pem', signedPem),
    signedKey: write('signed-key.pem', signedKeys.privatePem),
    selfSignedCert: write('self-signed-cert.pem', selfPem),
    selfSignedKey: write('self-signed-key.pem', selfKeys.privatePem),
  };
}
