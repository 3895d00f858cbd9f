import { describe, expect, it } from 'vitest';
import { parseFingerprint, showFingerprint } from './tls.js';

describe('parseFingerprint', () => {
  const hex = '5ef9e7825dc6f1e254bd74846728be1418b8e6633c98e7edfb675a688d82dbd2';
  const node = hex.toUpperCase().match(/../g)!.join(':');

  it("reads the coordinator's sha256:AB:… form, bare colon pairs and plain hex into Node's fingerprint256 form", () => {
    for (const written of [showFingerprint(node), node, hex, hex.toUpperCase(), `SHA256:${node.toLowerCase()}`, ` ${hex}\n`]) {
      expect(parseFingerprint(written), written).toBe(node);
    }
  });

  it('refuses other digests, wrong lengths and stray characters', () => {
    for (const written of ['', 'sha1:AB:CD', hex.slice(2), `${hex}00`, `sha1:${hex}`, hex.replace('5', 'g'), `${hex.slice(0, 10)}-${hex.slice(10)}`]) {
      expect(parseFingerprint(written), written).toBeUndefined();
    }
  });
});
