import { describe, expect, it } from 'vitest';
import { BoundedSeries } from './BoundedSeries.js';

describe('BoundedSeries', () => {
  it('keeps every row until it is full', () => {
    const series = new BoundedSeries(8);
    for (let x = 0; x < 8; x++) expect(series.push([x, x * 2])).toBe(true);
    expect(series.rows.map((r) => r[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('never holds more than its capacity, and still spans the whole run on an even grid', () => {
    const series = new BoundedSeries(100);
    let largest = 0;
    for (let x = 0; x < 100_000; x++) {
      series.push([x, Math.sin(x)]);
      largest = Math.max(largest, series.rows.length);
    }
    expect(largest).toBe(100);
    const xs = series.rows.map((r) => r[0] as number);
    expect(xs[0]).toBe(0);
    // The newest kept row is within one stride of the end, and the stride is the same everywhere.
    const stride = xs[1]! - xs[0]!;
    expect(100_000 - 1 - xs.at(-1)!).toBeLessThan(stride);
    expect(xs.every((x, i) => i === 0 || x - xs[i - 1]! === stride)).toBe(true);
    expect(xs.length).toBeGreaterThan(50);
  });

  it('refuses a capacity that cannot halve', () => {
    expect(() => new BoundedSeries(1)).toThrow(/at least 2 rows/);
  });
});
