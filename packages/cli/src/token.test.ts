import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLog } from '@adamant/core';
import { afterAll, describe, expect, it } from 'vitest';
import { coordinatorToken, isLoopback, readTokenFile } from './token.js';

const dir = mkdtempSync(path.join(tmpdir(), 'adamant-token-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('isLoopback', () => {
  it.each(['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1'])('%s is loopback', (host) => {
    expect(isLoopback(host)).toBe(true);
  });
  it.each(['0.0.0.0', '::', '10.0.0.5', '128.0.0.1', 'example.com', '::ffff:10.0.0.1'])('%s is not', (host) => {
    expect(isLoopback(host)).toBe(false);
  });
});

describe('the token', () => {
  it('from a file: its content less trailing line breaks', () => {
    const file = path.join(dir, 'crlf');
    writeFileSync(file, 's3cret value\r\n\n');
    chmodSync(file, 0o600);
    expect(readTokenFile(file, silentLog)).toBe('s3cret value');
  });

  it('is required off loopback, made up on loopback or with --insecure', () => {
    const saved = process.env.ADAMANT_TOKEN;
    delete process.env.ADAMANT_TOKEN;
    try {
      expect(() => coordinatorToken({ host: '0.0.0.0' }, silentLog)).toThrow(/refusing to listen on 0\.0\.0\.0 without a token.*--insecure/);
      expect(coordinatorToken({ host: '0.0.0.0', insecure: true }, silentLog)).toMatchObject({ madeUp: true, token: expect.stringMatching(/^[0-9a-f]{32}$/) });
      expect(coordinatorToken({ host: '127.0.0.1' }, silentLog).madeUp).toBe(true);
      expect(coordinatorToken({ host: '0.0.0.0', token: 'given' }, silentLog)).toEqual({ token: 'given', madeUp: false });
      expect(() => coordinatorToken({ host: '0.0.0.0', token: 'a', tokenFile: 'b' }, silentLog)).toThrow(/not both/);
    } finally {
      if (saved !== undefined) process.env.ADAMANT_TOKEN = saved;
    }
  });
});
