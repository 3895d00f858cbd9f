import { describe, expect, it } from 'vitest';
import { createCodec, floatBytes, type CoordinatorMessage } from '@adamant/core';
import { FramePool } from './FramePool.js';

const codec = createCodec();
const weights = (values: number): CoordinatorMessage => ({ type: 'step', step: 1, weights: floatBytes(new Float32Array(values).fill(0.5)), chunks: [] });

describe('FramePool', () => {
  it('hands a given-back buffer to the next frame, and grows new buffers to the largest frame seen', () => {
    const pool = new FramePool();
    const first = codec.encode(weights(100_000), pool.take());
    // 400 kB did not fit in the first 64 kB: the encoder moved to a larger buffer, which comes back.
    expect(first.byteLength).toBeGreaterThan(400_000);
    pool.give(first);
    const reused = pool.take();
    expect(reused.buffer).toBe(first.buffer);
    expect(pool.take().byteLength).toBeGreaterThanOrEqual(first.byteLength);
  });

  it('keeps at most two idle buffers', () => {
    const pool = new FramePool();
    const frames = [1, 2, 3].map(() => codec.encode(weights(10), pool.take()));
    for (const frame of frames) pool.give(frame);
    const buffers = new Set([frames[0]!.buffer, frames[1]!.buffer, frames[2]!.buffer]);
    expect(buffers.has(pool.take().buffer)).toBe(true);
    expect(buffers.has(pool.take().buffer)).toBe(true);
    expect(buffers.has(pool.take().buffer)).toBe(false);
  });
});
