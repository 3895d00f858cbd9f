import { describe, expect, it } from 'vitest';
import { LogThrottle } from './LogThrottle.js';

describe('LogThrottle', () => {
  it('lets one event per key through per window and counts the rest', () => {
    let now = 0;
    const throttle = new LogThrottle(60_000, 10, () => now);
    expect(throttle.admit('10.0.0.7')).toEqual({ suppressed: 0 });
    for (let i = 0; i < 49; i++) expect(throttle.admit('10.0.0.7')).toBeUndefined();
    expect(throttle.admit('10.0.0.8')).toEqual({ suppressed: 0 });
    now = 59_999;
    expect(throttle.admit('10.0.0.7')).toBeUndefined();
    now = 60_000;
    expect(throttle.admit('10.0.0.7')).toEqual({ suppressed: 50 });
    expect(throttle.admit('10.0.0.7')).toBeUndefined();
  });

  it('keeps at most maxKeys keys: beyond them new keys share one', () => {
    let now = 0;
    const throttle = new LogThrottle(1000, 3, () => now);
    for (const key of ['a', 'b', 'c']) expect(throttle.admit(key)).toEqual({ suppressed: 0 });
    expect(throttle.admit('d')).toEqual({ suppressed: 0 });
    expect(throttle.admit('e')).toBeUndefined();
    // Once their window has passed, old keys make room again.
    now = 1000;
    expect(throttle.admit('f')).toEqual({ suppressed: 0 });
    expect(throttle.admit('g')).toEqual({ suppressed: 0 });
  });
});
