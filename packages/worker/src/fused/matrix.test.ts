import { describe, expect, it } from 'vitest';
import { timeMajor } from './matrix.js';

describe('matrix helpers', () => {
  it('timeMajor reorders sample-major [B, T, F] to rows t*B+b', () => {
    // B = 2, T = 3, F = 2: sample 0 is [0..5], sample 1 is [6..11].
    const x = Float32Array.from({ length: 12 }, (_, i) => i);
    expect(Array.from(timeMajor(x, 2, 3, 2, new Float32Array(12)))).toEqual([0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
  });
});
