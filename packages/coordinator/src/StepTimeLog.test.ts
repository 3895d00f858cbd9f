import type { ChunkResult, LogFields } from '@adamant/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StepTimeLog } from './StepTimeLog.js';

const chunk = (step: number, computeMs?: number, evaluate = false): ChunkResult => ({
  type: 'chunk',
  step,
  index: 0,
  samples: 1,
  lossSum: 0,
  metricSums: [],
  ...(evaluate ? { evaluate: true } : {}),
  ...(computeMs !== undefined ? { computeMs } : {}),
});

describe('StepTimeLog', () => {
  afterEach(() => vi.restoreAllMocks());

  it("splits each training step's time and measures the serial gap from the previous step's last result", () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const lines: LogFields[] = [];
    const log = { debug: (message: string, fields?: LogFields) => message === 'step timeline' && lines.push(fields!), info() {}, warn() {}, error() {} };
    const timeLog = new StepTimeLog(log);
    // Step 0: sent over 0-2 ms; worker 1 computes 50 ms, worker 2 80 ms; the last result at 100; the update 3 ms.
    now = 2;
    timeLog.sent({ step: 0, kind: 'train' }, 0);
    now = 90;
    timeLog.chunk(1, chunk(0, 50));
    now = 100;
    timeLog.chunk(2, chunk(0, 80));
    timeLog.gathered(0);
    now = 103;
    timeLog.updated(0, 3);
    // Step 1 sent at 103-105 after the 3 ms update, its last result at 200, the previous deferred part 6 ms.
    now = 105;
    timeLog.sent({ step: 1, kind: 'train' }, 103);
    now = 200;
    timeLog.chunk(1, chunk(1, 60));
    timeLog.chunk(2, chunk(1));
    timeLog.gathered(6);
    timeLog.updated(1, 1);
    // Validation in between: no serial gap for the step after it.
    timeLog.sent({ step: 2, kind: 'evaluate' }, 200);
    timeLog.chunk(1, chunk(2, 5, true));
    now = 300;
    timeLog.sent({ step: 2, kind: 'train' }, 250);
    timeLog.gathered(0);
    timeLog.updated(2, 1);
    expect(lines[0]).toEqual({ step: 0, sendMs: 2, computeMs: 50, waitingMs: 30, transferMs: 18, updateMs: 3, deferredMs: 0, stepMs: 103 });
    expect(lines[1]).toEqual({ step: 1, sendMs: 2, computeMs: null, waitingMs: null, transferMs: 95, updateMs: 1, deferredMs: 6, serialMs: 5, stepMs: 97 });
    expect(lines[2]).not.toHaveProperty('serialMs');
  });
});
