import { describe, expect, it } from 'vitest';
import { reconnectDelayMs } from './reconnectDelay.js';

describe('reconnectDelayMs', () => {
  it('starts at 250 ms and doubles up to 5 s, where it stays', () => {
    const schedule = Array.from({ length: 9 }, (_, attempt) => reconnectDelayMs(attempt, 0));
    expect(schedule).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000, 5000]);
    expect(reconnectDelayMs(1000, 0)).toBe(5000);
  });

  it('jitter shortens a wait by at most a fifth, never lengthens it', () => {
    for (const attempt of [0, 3, 10]) {
      const base = reconnectDelayMs(attempt, 0);
      for (const jitter of [0.25, 0.5, 0.999]) {
        const delay = reconnectDelayMs(attempt, jitter);
        expect(delay).toBeLessThanOrEqual(base);
        expect(delay).toBeGreaterThanOrEqual(base * 0.8);
      }
    }
    expect(reconnectDelayMs(0, 0.5)).toBe(225);
  });
});
