import { describe, expect, it } from 'vitest';
import { sigmoid } from '@adamant/core';
import { EXACT_GATES, gateFunctionsFor, RATIONAL_GATES, rationalSigmoid, rationalTanh } from './gateFunctions.js';

/** Every 1/1024 from -40 to 40, and a few beyond. */
const GRID = [...Array.from({ length: 80 * 1024 + 1 }, (_, k) => -40 + k / 1024), -1e6, -100, 100, 1e6, 1e-30, -1e-30];

describe('the gate functions', () => {
  it('rationalTanh is within 3e-7 of Math.tanh, relative, odd, and keeps NaN', () => {
    let worst = 0;
    for (const x of GRID) {
      const exact = Math.tanh(x);
      if (exact !== 0) worst = Math.max(worst, Math.abs(rationalTanh(x) - exact) / Math.abs(exact));
      expect(rationalTanh(-x)).toBe(-rationalTanh(x));
    }
    expect(worst).toBeLessThanOrEqual(3e-7);
    expect(worst).toBeGreaterThan(0);
    expect(rationalTanh(0)).toBe(0);
    expect(rationalTanh(Number.NaN)).toBeNaN();
    expect(Math.abs(rationalTanh(Number.POSITIVE_INFINITY) - 1)).toBeLessThan(3e-7);
  });

  it('rationalSigmoid is within 1.5e-7 of 1 / (1 + e^-x), absolute, and keeps NaN', () => {
    let worst = 0;
    for (const x of GRID) worst = Math.max(worst, Math.abs(rationalSigmoid(x) - sigmoid(x)));
    expect(worst).toBeLessThanOrEqual(1.5e-7);
    expect(rationalSigmoid(0)).toBe(0.5);
    expect(rationalSigmoid(Number.NaN)).toBeNaN();
  });

  it('the wasm engine keeps the exact functions (its bits), OpenBLAS takes the rational ones', () => {
    expect(gateFunctionsFor({ name: 'wasm' })).toBe(EXACT_GATES);
    expect(EXACT_GATES.tanh).toBe(Math.tanh);
    expect(EXACT_GATES.sigmoid).toBe(sigmoid);
    expect(gateFunctionsFor({ name: 'openblas' })).toBe(RATIONAL_GATES);
  });
});
