import { describe, expect, it } from 'vitest';
import type { StepRound } from './StepRound.js';
import { bytes, CHUNKS, FakeWorker, flipped, reference, result, settled, setUp, STEP } from './StepRound.testutil.js';
import { Verification } from './Verification.js';

/** Verification that picks exactly the chunks listed, whatever the seed. */
class PickedChunks extends Verification<FakeWorker> {
  constructor(private readonly picked: readonly number[]) {
    super(1, 0);
  }
  override sampled(_step: number, index: number): boolean {
    return this.picked.includes(index);
  }
}

/** Has the workers answer what they owe, again and again until they owe nothing: honest results, or flipped ones from `liars`. */
function answerAll(round: StepRound<FakeWorker>, workers: FakeWorker[], liars: FakeWorker[] = []): void {
  for (let owing = workers; owing.length > 0; owing = workers.filter((w) => round.owedBy(w).length > 0)) {
    for (const worker of owing) {
      for (const index of round.owedBy(worker)) round.receive(worker, liars.includes(worker) ? flipped(index) : result(index));
    }
  }
}

describe('StepRound with --verify', () => {
  it('picks chunks from the seed, about the fraction asked for, the same every time', () => {
    const verification = new Verification<FakeWorker>(0.25, 42);
    const picked = Array.from({ length: 4000 }, (_, i) => verification.sampled(Math.floor(i / 4), i % 4));
    const share = picked.filter(Boolean).length / picked.length;
    expect(share).toBeGreaterThan(0.22);
    expect(share).toBeLessThan(0.28);
    expect(Array.from({ length: 4000 }, (_, i) => new Verification<FakeWorker>(0.25, 42).sampled(Math.floor(i / 4), i % 4))).toEqual(picked);
  });

  it('has two workers on the same backend compute a verified chunk and applies it when they agree to the bit', async () => {
    const verification = new Verification<FakeWorker>(1, 0);
    const a = new FakeWorker('a');
    const b = new FakeWorker('b');
    const { server, round, dropped } = setUp([a, b], { verification });
    expect(a.given).toEqual([[0, 1, 2, 3]]);
    expect(b.given).toEqual([[0, 1, 2, 3]]);
    expect(round.receive(a, result(0))).toBe('held');
    expect(round.receive(b, result(0))).toBe('accepted');
    answerAll(round, [a, b]);
    expect(await settled(round)).toBe(true);
    server.update();
    expect(bytes(server.params).equals(bytes(reference()))).toBe(true);
    expect(verification.counts).toEqual({ verified: CHUNKS, mismatches: 0, unverifiable: 0, quarantined: [] });
    expect(dropped).toEqual([]);
    expect(verification.trusts(a) && verification.trusts(b)).toBe(true);
  });

  it('verifies every chunk of a worker on probation, then only the chunks the seed picks', async () => {
    const verification = new PickedChunks([]);
    const a = new FakeWorker('a');
    const b = new FakeWorker('b');
    const first = setUp([a, b], { verification });
    expect(a.given).toEqual([[0, 1, 2, 3]]);
    answerAll(first.round, [a, b]);
    expect(await settled(first.round)).toBe(true);
    expect(verification.counts.verified).toBe(CHUNKS);
    const second = setUp([a, b], { verification });
    expect(a.given.at(-1)).toEqual([0, 1]);
    expect(b.given.at(-1)).toEqual([2, 3]);
    answerAll(second.round, [a, b]);
    expect(await settled(second.round)).toBe(true);
    expect(verification.counts.verified).toBe(CHUNKS);
  });

  it('on a mismatch asks a third worker, quarantines the one the other two contradict, and the step is as if it had never lied', async () => {
    const verification = new Verification<FakeWorker>(1, 0);
    const a = new FakeWorker('a');
    const b = new FakeWorker('b');
    const liar = new FakeWorker('liar');
    const mismatches: number[] = [];
    const { server, round, dropped } = setUp([a, liar, b], { verification, mismatch: (index) => mismatches.push(index) });
    answerAll(round, [liar], [liar]);
    answerAll(round, [a, b]);
    expect(await settled(round)).toBe(true);
    server.update();
    expect(bytes(server.params).equals(bytes(reference()))).toBe(true);
    expect(dropped).toEqual([{ worker: 'liar', reason: expect.stringMatching(/^step 7 \(epoch 1, batch 1\), chunk \d: its result differs from those of (a and b|b and a), which agree \(--verify\)$/), quarantine: true }]);
    expect(verification.counts.quarantined).toEqual(['liar']);
    expect(verification.counts.mismatches).toBeGreaterThan(0);
    expect(mismatches.length).toBe(verification.counts.mismatches);
    expect(verification.trusts(liar)).toBe(false);
    // Its later answers count for nothing.
    expect(round.receive(liar, result(0))).toBe('not owed');
  });

  it('takes back a chunk a trusted worker applied unverified once two others contradict it on a verified one', async () => {
    const verification = new PickedChunks([3]);
    const [a, b, c] = [new FakeWorker('a'), new FakeWorker('b'), new FakeWorker('c')];
    for (const w of [a, b, c]) verification.vouch(w);
    const { server, round, dropped } = setUp([a, b, c], { verification });
    expect(c.given).toEqual([[2, 3]]);
    expect(a.given).toEqual([[0, 3]]);
    expect(round.receive(c, flipped(2))).toBe('accepted');
    expect(round.receive(c, flipped(3))).toBe('held');
    expect(round.receive(a, result(3))).toBe('held');
    expect(b.given.at(-1)).toEqual([3]);
    expect(round.receive(b, result(3))).toBe('accepted');
    expect(dropped.map((d) => [d.worker, d.quarantine])).toEqual([['c', true]]);
    // Chunk 2 was taken out of the sum and handed to an honest worker.
    expect(round.outstanding().map((o) => o.index)).toEqual([0, 1, 2]);
    answerAll(round, [a, b]);
    expect(await settled(round)).toBe(true);
    server.update();
    expect(bytes(server.params).equals(bytes(reference()))).toBe(true);
    expect(round.lossSum()).toBe(0.5 + 1.5 + 2.5 + 3.5);
  });

  it('counts a chunk unverifiable when no second worker on its backend is ready, and applies it', async () => {
    const verification = new Verification<FakeWorker>(1, 0);
    const a = new FakeWorker('a', 'cpu');
    const b = new FakeWorker('b', 'wasm');
    const { server, round } = setUp([a, b], { verification });
    expect(a.given).toEqual([[0, 1]]);
    expect(b.given).toEqual([[2, 3]]);
    answerAll(round, [a, b]);
    expect(await settled(round)).toBe(true);
    server.update();
    expect(bytes(server.params).equals(bytes(reference()))).toBe(true);
    expect(verification.counts).toMatchObject({ verified: 0, unverifiable: CHUNKS });
  });

  it('waits for a worker to join when two results disagree and nobody can decide', async () => {
    const verification = new PickedChunks([1]);
    const a = new FakeWorker('a');
    const liar = new FakeWorker('liar');
    verification.vouch(a);
    verification.vouch(liar);
    const undecided: number[] = [];
    const { round, ready, dropped } = setUp([a, liar], { verification, undecided: (index) => undecided.push(index) });
    answerAll(round, [a]);
    answerAll(round, [liar], [liar]);
    expect(undecided).toEqual([1]);
    expect(await settled(round)).toBe(false);
    const judge = new FakeWorker('judge');
    ready.push(judge);
    round.workerJoined();
    expect(judge.given).toEqual([[1]]);
    round.receive(judge, result(1));
    expect(dropped.map((d) => d.worker)).toEqual(['liar']);
    // The liar's unverified chunks (2 and 3) were taken back; the others compute them again.
    answerAll(round, [a, judge]);
    expect(await settled(round)).toBe(true);
    expect(round.step).toBe(STEP);
  });
});
