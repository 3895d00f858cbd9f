import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AdamantError } from '@adamant/core';
import { ensureWritableDir, listenError } from './systemErrors.js';

const systemError = (code: string) => Object.assign(new Error(`listen ${code}`), { code });

describe('system errors as user errors', () => {
  it('names the port in use and what to do (E_ADDRINUSE)', () => {
    const error = listenError(systemError('EADDRINUSE'), '0.0.0.0', 7070) as AdamantError;
    expect(error.code).toBe('E_ADDRINUSE');
    expect(error.message).toBe('port 7070 is in use on 0.0.0.0; pick another --port (0 picks a free one) or stop the other process');
  });

  it('explains a privileged port (E_ACCESS) and leaves other errors alone', () => {
    const error = listenError(systemError('EACCES'), '0.0.0.0', 80) as AdamantError;
    expect(error.code).toBe('E_ACCESS');
    expect(error.message).toMatch(/^not allowed to listen on 0\.0\.0\.0:80: ports below 1024 need root/);
    const other = systemError('EMFILE');
    expect(listenError(other, '0.0.0.0', 80)).toBe(other);
  });

  it('refuses an --out it cannot create (E_ACCESS), and creates one it can', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'adamant-out-'));
    try {
      writeFileSync(path.join(dir, 'file'), '');
      expect(() => ensureWritableDir(path.join(dir, 'file', 'run'))).toThrow(expect.objectContaining({ code: 'E_ACCESS', message: expect.stringMatching(/cannot write there \(a file is in the way\)/) }));
      ensureWritableDir(path.join(dir, 'a', 'b'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
