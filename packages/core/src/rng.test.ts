import { describe, expect, it } from 'vitest';
import { mixSeed, mulberry32, SEED_PURPOSE } from './rng.js';

function draws(random: () => number, n: number): number[] {
  return Array.from({ length: n }, () => random());
}

describe('mulberry32', () => {
  it('matches the reference mulberry32 sequence', () => {
    // First outputs of the published reference implementation for seed 42.
    expect(draws(mulberry32(42), 3)).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
  });

  it('gives the same sequence for the same seed and another for another seed', () => {
    expect(draws(mulberry32(7), 100)).toEqual(draws(mulberry32(7), 100));
    expect(draws(mulberry32(7), 100)).not.toEqual(draws(mulberry32(8), 100));
  });

  it('stays in [0, 1)', () => {
    const values = draws(mulberry32(123), 10_000);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    // Spread over the interval, not stuck in a corner.
    expect(Math.min(...values)).toBeLessThan(0.01);
    expect(Math.max(...values)).toBeGreaterThan(0.99);
  });
});

describe('mixSeed', () => {
  it('is deterministic and returns an unsigned 32-bit integer', () => {
    const seed = mixSeed(5, 1, 3);
    expect(mixSeed(5, 1, 3)).toBe(seed);
    expect(Number.isInteger(seed)).toBe(true);
    expect(seed).toBeGreaterThanOrEqual(0);
    expect(seed).toBeLessThanOrEqual(0xffffffff);
  });

  it('depends on the order of its parts', () => {
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
    expect(mixSeed(0, 1, 2)).not.toBe(mixSeed(0, 2, 1));
  });

  it('depends on every part', () => {
    expect(mixSeed(1, 2, 3)).not.toBe(mixSeed(1, 2, 4));
    expect(mixSeed(1, 2)).not.toBe(mixSeed(1, 2, 0));
  });
});

describe('SEED_PURPOSE', () => {
  it('keeps the purpose keys every saved run was drawn with', () => {
    expect(SEED_PURPOSE).toEqual({ shuffle: 1, dropout: 2, verify: 3 });
  });
});
