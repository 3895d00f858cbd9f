import { describe, expect, it } from 'vitest';
import type { Log } from '@adamant/core';
import { warnOfIdleWorkers } from './idleWorkers.js';

function recordingLog(): { log: Log; warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => {};
  return { warnings, log: { debug: noop, info: noop, error: noop, warn: (message) => warnings.push(message) } };
}

const joined = (workers: number) => ({ kind: 'joined' as const, workerId: workers, name: `w${workers}`, workers });

describe('the idle-worker warning', () => {
  it('warns once when more workers joined than a step has chunks, naming a chunk size that fits', () => {
    const { log, warnings } = recordingLog();
    const listener = warnOfIdleWorkers({ batchSize: 32, chunkSize: undefined }, log);
    for (let n = 1; n <= 6; n++) listener(joined(n));
    expect(warnings).toEqual([
      '5 workers for 4 chunks per step (batchSize 32, chunkSize 8): 1 of them will sit idle, except to stand in for stragglers; set "chunkSize": 6 in the config to give each of 5 workers a chunk',
    ]);
  });

  it('says nothing while every worker has a chunk, nor when workers leave', () => {
    const { log, warnings } = recordingLog();
    const listener = warnOfIdleWorkers({ batchSize: 32, chunkSize: 4 }, log);
    for (let n = 1; n <= 8; n++) listener(joined(n));
    listener({ kind: 'left', workerId: 1, name: 'w1', workers: 9 });
    expect(warnings).toEqual([]);
  });

  it('asks for a larger batch when even one-sample chunks are too few', () => {
    const { log, warnings } = recordingLog();
    warnOfIdleWorkers({ batchSize: 2, chunkSize: 1 }, log)(joined(3));
    expect(warnings[0]).toMatch(/raise batchSize to at least 3/);
  });
});
