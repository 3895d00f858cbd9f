import { afterEach, describe, expect, it } from 'vitest';
import { BackendError } from '@adamant/core';
import { describeEngine, loadGemmEngine } from './loadGemmEngine.js';
import { OPENBLAS_LIB_ENV, openBlasCandidates } from './OpenBlasGemm.js';

const saved = process.env[OPENBLAS_LIB_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[OPENBLAS_LIB_ENV];
  else process.env[OPENBLAS_LIB_ENV] = saved;
});

describe('loadGemmEngine', () => {
  it('wasm always loads; openblas loads here (CI installs it) with its version and CPU kernel', () => {
    expect(loadGemmEngine('wasm')).toMatchObject({ name: 'wasm', build: '' });
    const openblas = loadGemmEngine('openblas');
    expect(openblas.name).toBe('openblas');
    expect(openblas.build).toMatch(/^\d+\.\d+\.\d+\S* \S+$/);
    expect(describeEngine(openblas)).toBe(`openblas ${openblas.build}`);
    expect(describeEngine(loadGemmEngine('wasm'))).toBe('wasm');
    expect(loadGemmEngine('auto').name).toBe('openblas');
  });

  it('a missing OpenBLAS: openblas is a one-line BackendError with the install commands, auto falls back to wasm saying so once', () => {
    process.env[OPENBLAS_LIB_ENV] = '/nonexistent/libopenblas.so.0';
    let error: unknown;
    try {
      loadGemmEngine('openblas');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe('E_BACKEND');
    const message = (error as BackendError).message;
    expect(message).toMatch(/^--gemm openblas: OpenBLAS was not found at \/nonexistent\/libopenblas\.so\.0 \(ADAMANT_OPENBLAS_LIB\); install it with/);
    expect(message).toContain('apt-get install libopenblas0-pthread');
    expect(message).toContain('dnf install openblas');
    expect(message).toContain('brew install openblas');
    expect(message).toMatch(/or use --gemm wasm$/);
    expect(message).not.toContain('\n');
    const said: string[] = [];
    expect(loadGemmEngine('auto', { onFallback: (line) => said.push(line) }).name).toBe('wasm');
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/^--gemm auto: OpenBLAS was not found .*apt-get install libopenblas0-pthread.*slower wasm GEMM engine$/);
  });

  it('a library that is not OpenBLAS is refused, naming the file', () => {
    process.env[OPENBLAS_LIB_ENV] = 'libm.so.6';
    expect(() => loadGemmEngine('openblas')).toThrow(/libm\.so\.6 is not a usable OpenBLAS \(.*cblas_sgemm.*\); install it with/);
  });

  it('looks for the sonames on Linux, Homebrew folders on macOS, and only the named file when ADAMANT_OPENBLAS_LIB is set', () => {
    expect(openBlasCandidates('linux', {})).toEqual(['libopenblas.so.0', 'libopenblas.so']);
    expect(openBlasCandidates('darwin', {})).toEqual(['libopenblas.dylib', '/opt/homebrew/opt/openblas/lib/libopenblas.dylib', '/usr/local/opt/openblas/lib/libopenblas.dylib']);
    expect(openBlasCandidates('linux', { [OPENBLAS_LIB_ENV]: '/opt/blas/libopenblas.so' })).toEqual(['/opt/blas/libopenblas.so']);
  });
});
