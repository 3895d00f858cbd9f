import { addInto, divideInPlace } from '@adamant/core';

/**
 * Combines one step's chunk gradient sums into the batch-mean gradient, always as
 * `((c0 + c1) + c2) + ...` in chunk order, whatever order the chunks arrive in. Float addition
 * is not associative, so this fixed order is what makes the result independent of the number
 * of workers and of timing. Chunks that arrive early wait until every chunk before them is in;
 * the running sum lives in one reused buffer.
 */
export class GradientReducer {
  private readonly sum: Float32Array;
  private waiting = new Map<number, Float32Array>();
  private next = 0;
  private chunkCount = 0;
  private batchSize = 0;
  private averaged = false;

  constructor(readonly size: number) {
    this.sum = new Float32Array(size);
  }

  /** Starts a step of `chunkCount` chunks covering `batchSize` samples. */
  begin(chunkCount: number, batchSize: number): void {
    this.sum.fill(0);
    this.waiting.clear();
    this.next = 0;
    this.chunkCount = chunkCount;
    this.batchSize = batchSize;
    this.averaged = false;
  }

  /** Whether chunk `index` was already taken this step (a duplicate must not count twice). */
  has(index: number): boolean {
    return index < this.next || this.waiting.has(index);
  }

  /** Takes chunk `index`'s gradient sum. The array must stay untouched until the step completes. */
  add(index: number, grads: Float32Array): void {
    if (index < 0 || index >= this.chunkCount) throw new RangeError(`chunk ${index} is outside 0..${this.chunkCount - 1}`);
    if (this.has(index)) throw new RangeError(`chunk ${index} was already added`);
    if (grads.length !== this.size) throw new RangeError(`chunk ${index} has ${grads.length} values, expected ${this.size}`);
    this.waiting.set(index, grads);
    for (let ready = this.waiting.get(this.next); ready; ready = this.waiting.get(this.next)) {
      addInto(this.sum, ready);
      this.waiting.delete(this.next);
      this.next++;
    }
  }

  get complete(): boolean {
    return this.chunkCount > 0 && this.next === this.chunkCount;
  }

  /** The batch-mean gradient (sum / batch size). Valid until the next `begin`. */
  mean(): Float32Array {
    if (!this.complete) throw new Error(`GradientReducer.mean: ${this.chunkCount - this.next} chunks missing`);
    if (!this.averaged) divideInPlace(this.sum, this.batchSize);
    this.averaged = true;
    return this.sum;
  }
}
