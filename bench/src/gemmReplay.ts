import type { ConstantMatrix, GemmEngine } from '@adamant/worker';

/** One product of `GemmEngine.gemmShared`. */
type SharedProduct = Parameters<GemmEngine['gemmShared']>[4][number];

/** What a fused step asked of its engine: a plain gemm, products sharing a right-hand side, or a product with a kept weight matrix. */
type GemmCall =
  | { kind: 'gemm'; transA: boolean; transB: boolean; M: number; N: number; K: number }
  | { kind: 'shared'; transA: boolean; N: number; K: number; Ms: number[] }
  | { kind: 'constant'; matrix: number; M: number; transposed: boolean };

/**
 * An engine that passes every product on to `inner` and writes down its shape, so that a fused
 * step's products can be replayed alone (`GemmReplay`): what the step would cost if it were
 * nothing but its GEMMs, on the same engine.
 */
export class RecordingEngine implements GemmEngine {
  readonly calls: GemmCall[] = [];
  readonly matrices: { rows: number; cols: number }[] = [];
  recording = false;

  constructor(private readonly inner: GemmEngine) {}

  get name() {
    return this.inner.name;
  }

  get build() {
    return this.inner.build;
  }

  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
    if (this.recording) this.calls.push({ kind: 'gemm', transA, transB, M, N, K });
    this.inner.gemm(transA, transB, M, N, K, a, b, out);
  }

  gemmShared(transA: boolean, N: number, K: number, b: Float32Array, products: readonly SharedProduct[]): void {
    if (this.recording) this.calls.push({ kind: 'shared', transA, N, K, Ms: products.map((product) => product.M) });
    this.inner.gemmShared(transA, N, K, b, products);
  }

  constantMatrix(rows: number, cols: number): ConstantMatrix {
    const inner = this.inner.constantMatrix(rows, cols);
    const matrix = this.matrices.push({ rows, cols }) - 1;
    return {
      rows,
      cols,
      set: (values) => inner.set(values),
      multiply: (a, M, transposed, out) => {
        if (this.recording) this.calls.push({ kind: 'constant', matrix, M, transposed });
        return inner.multiply(a, M, transposed, out);
      },
      dispose: () => inner.dispose(),
    };
  }
}

const flopOf = (call: GemmCall, matrices: readonly { rows: number; cols: number }[]): number => {
  if (call.kind === 'gemm') return 2 * call.M * call.N * call.K;
  if (call.kind === 'shared') return call.Ms.reduce((sum, M) => sum + 2 * M * call.N * call.K, 0);
  const { rows, cols } = matrices[call.matrix]!;
  return 2 * call.M * rows * cols;
};

/**
 * The products a recorded step made, in order, on random operands of the same shapes, on `engine`
 * (weight matrices kept by the engine as the step keeps them). `run()` replays them all once.
 */
export class GemmReplay {
  readonly flop: number;
  readonly products: number;
  private readonly matrices: ConstantMatrix[];
  private readonly a: Float32Array;
  private readonly b: Float32Array;
  private readonly out: Float32Array;

  constructor(
    private readonly engine: GemmEngine,
    private readonly recorded: RecordingEngine,
  ) {
    const { calls, matrices } = recorded;
    this.flop = calls.reduce((sum, call) => sum + flopOf(call, matrices), 0);
    this.products = calls.length;
    this.matrices = matrices.map(({ rows, cols }) => {
      const matrix = engine.constantMatrix(rows, cols);
      matrix.set(Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i) * 0.1));
      return matrix;
    });
    let [aSize, bSize, outSize] = [0, 0, 0];
    for (const call of calls) {
      if (call.kind === 'gemm') {
        [aSize, bSize, outSize] = [Math.max(aSize, call.M * call.K), Math.max(bSize, call.K * call.N), Math.max(outSize, call.M * call.N)];
      } else if (call.kind === 'shared') {
        const M = Math.max(...call.Ms);
        [aSize, bSize, outSize] = [Math.max(aSize, M * call.K), Math.max(bSize, call.K * call.N), Math.max(outSize, M * call.N)];
      } else {
        const { rows, cols } = matrices[call.matrix]!;
        [aSize, outSize] = [Math.max(aSize, call.M * Math.max(rows, cols)), Math.max(outSize, call.M * Math.max(rows, cols))];
      }
    }
    this.a = Float32Array.from({ length: aSize }, (_, i) => Math.cos(i) * 0.1);
    this.b = Float32Array.from({ length: bSize }, (_, i) => Math.sin(i) * 0.1);
    this.out = new Float32Array(outSize);
  }

  run(): void {
    for (const call of this.recorded.calls) {
      if (call.kind === 'gemm') this.engine.gemm(call.transA, call.transB, call.M, call.N, call.K, this.a, this.b, this.out);
      else if (call.kind === 'shared') this.engine.gemmShared(call.transA, call.N, call.K, this.b, this.sharedProducts(call.Ms));
      else this.matrices[call.matrix]!.multiply(this.a, call.M, call.transposed, this.out);
    }
  }

  /** Products of a shared call: one input and one output buffer serve them all (`out` may not alias `a`, and does not). */
  private sharedProducts(Ms: readonly number[]): SharedProduct[] {
    return Ms.map((M) => ({ M, a: this.a, out: this.out }));
  }

  dispose(): void {
    for (const matrix of this.matrices) matrix.dispose();
  }
}
