import { describe, expect, it } from 'vitest';
import { backendIdentity } from './handshake.js';

describe('backendIdentity', () => {
  it('is the backend alone on autodiff, and the backend with the GEMM engine and its build on the fused path', () => {
    expect(backendIdentity({ type: 'ready', backend: 'cpu' })).toBe('cpu');
    expect(backendIdentity({ type: 'ready', backend: 'wasm', gemm: 'wasm' })).toBe('wasm+wasm');
    expect(backendIdentity({ type: 'ready', backend: 'wasm', gemm: 'openblas', gemmBuild: '0.3.21 Haswell' })).toBe('wasm+openblas 0.3.21 Haswell');
    // Workers on other OpenBLAS kernels may round differently: they are not the same identity.
    expect(backendIdentity({ type: 'ready', backend: 'wasm', gemm: 'openblas', gemmBuild: '0.3.21 SkylakeX' })).not.toBe(
      backendIdentity({ type: 'ready', backend: 'wasm', gemm: 'openblas', gemmBuild: '0.3.21 Haswell' }),
    );
  });

  it('keeps a peer-supplied build printable', () => {
    expect(backendIdentity({ type: 'ready', backend: 'wasm', gemm: 'openblas', gemmBuild: 'x\u001b[31my' })).not.toContain('\u001b');
  });
});
