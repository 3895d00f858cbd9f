import { describe, expect, it } from 'vitest';
import { splitStepTime, StepTimeline } from './StepTimeline.js';

const parts = (s: { compute: number | null; waiting: number | null; communication: number; update: number }) => (s.compute ?? 0) + (s.waiting ?? 0) + s.communication + s.update;

describe('StepTimeline', () => {
  it('splits a step: compute the least busy worker, waiting up to the slowest, communication the rest of the gather, then the update', () => {
    const timeline = new StepTimeline();
    // Step 4 started at t=1000. Worker 1 computed two chunks (30 + 30 ms), worker 2 one chunk (25 ms).
    timeline.chunk(2, 4, 25, 1040);
    timeline.chunk(1, 4, 30, 1045);
    timeline.chunk(1, 4, 30, 1080);
    const split = timeline.finish(4, 100, 1100)!;
    expect(split).toEqual({ step: 4, compute: 25, waiting: 35, communication: 20, update: 20, total: 100 });
    expect(parts(split)).toBe(split.total);
  });

  it('ignores results of an earlier step (late, or duplicates) and starts over on a later one', () => {
    const timeline = new StepTimeline();
    timeline.chunk(1, 3, 10, 10);
    timeline.chunk(1, 4, 50, 70);
    timeline.chunk(2, 3, 999, 80);
    expect(timeline.finish(3, 40, 90)).toBeUndefined();
    expect(timeline.finish(4, 80, 100)).toEqual({ step: 4, compute: 50, waiting: 0, communication: 0, update: 30, total: 80 });
    // Nothing is left of a finished step.
    expect(timeline.finish(4, 80, 100)).toBeUndefined();
  });

  it('without compute times from a worker, reports the whole gather as communication', () => {
    const split = splitStepTime(0, [{ computeMs: 20, timed: true, lastArrivalAt: 30 }, { computeMs: 0, timed: false, lastArrivalAt: 50 }], 0, 60);
    expect(split).toEqual({ step: 0, compute: null, waiting: null, communication: 50, update: 10, total: 60 });
  });

  it('clamps compute times measured by other clocks so the parts still add up to the step', () => {
    const split = splitStepTime(1, [{ computeMs: 500, timed: true, lastArrivalAt: 40 }, { computeMs: 900, timed: true, lastArrivalAt: 45 }], 0, 50);
    expect(split).toMatchObject({ compute: 45, waiting: 0, communication: 0, update: 5, total: 50 });
    expect(parts(split)).toBe(50);
  });
});
