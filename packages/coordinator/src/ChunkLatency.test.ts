import { describe, expect, it } from 'vitest';
import { ChunkLatency } from './ChunkLatency.js';

describe('ChunkLatency', () => {
  it('calls nothing a straggler before it has measured a chunk', () => {
    expect(new ChunkLatency().stragglerAfter()).toBe(Number.POSITIVE_INFINITY);
  });

  it('measures slowness against the healthy workers, even when one worker is always slow', () => {
    const latency = new ChunkLatency(8);
    for (let i = 0; i < 4; i++) {
      latency.record(100);
      latency.record(4000);
    }
    expect(latency.stragglerAfter(3, 250)).toBe(300);
  });

  it('keeps a floor for tiny chunks and forgets samples beyond its window', () => {
    const latency = new ChunkLatency(4);
    for (const ms of [5000, 5000, 5000, 5000, 2, 2, 2, 2]) latency.record(ms);
    expect(latency.quantile(0.25)).toBe(2);
    expect(latency.stragglerAfter(3, 250)).toBe(250);
  });

  it('gives a chunk 10 minutes before any was measured, then 10x the median with a 30 s floor', () => {
    const latency = new ChunkLatency(8);
    expect(latency.deadline()).toBe(600_000);
    for (const ms of [1000, 2000, 3000]) latency.record(ms);
    expect(latency.deadline()).toBe(30_000);
    for (const ms of [9000, 9000, 9000]) latency.record(ms);
    expect(latency.deadline()).toBe(90_000);
  });
});
