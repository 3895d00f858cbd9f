import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@adamant/core';
import { checkOperands, type ConstantMatrix, type GemmEngine, type SharedProduct } from './GemmEngine.js';

/** Reads a tensor's values without allocating: a view of the wasm heap, else the backend's own array. */
export function valuesOf(t: tf.Tensor): Float32Array {
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.Tensor) => Float32Array };
  return backend.typedArrayFromHeap ? backend.typedArrayFromHeap(t) : (t.dataSync() as Float32Array);
}

/** A row-major [rows x cols] matrix transposed, into `out`. */
export function transpose(a: Float32Array, rows: number, cols: number, out: Float32Array = new Float32Array(rows * cols)): Float32Array {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/** out = left [M, K] times right (a backend matrix [K, N]): one plain tfjs matMul. */
function multiplyBy(left: Float32Array, M: number, K: number, right: tf.Tensor2D, out: Float32Array): Float32Array {
  const leftTensor = tf.tensor2d(left.subarray(0, M * K), [M, K]);
  const product = tf.matMul(leftTensor, right);
  try {
    out.set(valuesOf(product));
    return out;
  } finally {
    leftTensor.dispose();
    product.dispose();
  }
}

/**
 * The `wasm` engine: tfjs's own matMul on the worker's backend (wasm unless --backend picks
 * another), which is what the fused path always ran on. Transposed tfjs matMuls fall to a slow
 * scalar loop on wasm (1-2 GFLOP/s against ~30), so a transposed operand is transposed explicitly
 * in JavaScript first and every product is a plain matMul: the very operations, and so the very
 * bits, of the fused path before engines existed.
 */
export class WasmGemm implements GemmEngine {
  readonly name = 'wasm';
  readonly build = '';
  private transposedA = new Float32Array(0);
  private transposedB = new Float32Array(0);

  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
    checkOperands(M, N, K, a, b, out);
    const right = transB ? transpose(b, N, K, this.scratch('B', K * N)) : b;
    this.gemmShared(transA, N, K, right, [{ M, a, out }]);
  }

  gemmShared(transA: boolean, N: number, K: number, b: Float32Array, products: readonly SharedProduct[]): void {
    for (const { M, a, out } of products) checkOperands(M, N, K, a, b, out);
    const live = products.filter(({ M }) => M * N > 0);
    if (live.length === 0) return;
    if (K === 0) {
      for (const { M, out } of live) out.fill(0, 0, M * N);
      return;
    }
    // One tensor for every product: tfjs-wasm uploads it, and XNNPACK packs it, once.
    const rightTensor = tf.tensor2d(b.subarray(0, K * N), [K, N]);
    try {
      for (const { M, a, out } of live) multiplyBy(transA ? transpose(a, K, M, this.scratch('A', M * K)) : a, M, K, rightTensor, out);
    } finally {
      rightTensor.dispose();
    }
  }

  constantMatrix(rows: number, cols: number): ConstantMatrix {
    return new BackendMatrix(rows, cols);
  }

  private scratch(which: 'A' | 'B', length: number): Float32Array {
    if (which === 'A') {
      if (this.transposedA.length < length) this.transposedA = new Float32Array(length);
      return this.transposedA.subarray(0, length);
    }
    if (this.transposedB.length < length) this.transposedB = new Float32Array(length);
    return this.transposedB.subarray(0, length);
  }
}

/**
 * A weight matrix on the tfjs backend, and its transpose for the backward pass's products, made
 * by an explicit transpose (a transposed matMul is slow on wasm).
 */
class BackendMatrix implements ConstantMatrix {
  private matrix?: tf.Tensor2D;
  private transposed?: tf.Tensor2D;

  constructor(
    readonly rows: number,
    readonly cols: number,
  ) {}

  set(values: Float32Array): void {
    if (values.length < this.rows * this.cols) throw new ShapeError(`a [${this.rows}x${this.cols}] weight matrix was given ${values.length} values`);
    this.dispose();
    // Fresh arrays: the cpu backend keeps the array a tensor was made from.
    const copy = values.slice(0, this.rows * this.cols);
    this.matrix = tf.tensor2d(copy, [this.rows, this.cols]);
    this.transposed = tf.tensor2d(transpose(copy, this.rows, this.cols), [this.cols, this.rows]);
  }

  multiply(a: Float32Array, M: number, transposed: boolean, out: Float32Array): Float32Array {
    if (!this.matrix || !this.transposed) throw new ShapeError(`a [${this.rows}x${this.cols}] weight matrix was used before its values were set`);
    const [inner, width] = transposed ? [this.cols, this.rows] : [this.rows, this.cols];
    if (a.length < M * inner || out.length < M * width) throw new ShapeError(`[${M}x${inner}] x [${inner}x${width}]: operands of ${a.length} and ${out.length} values are too short`);
    return transposed ? multiplyBy(a, M, this.cols, this.transposed, out) : multiplyBy(a, M, this.rows, this.matrix, out);
  }

  dispose(): void {
    this.matrix?.dispose();
    this.transposed?.dispose();
    this.matrix = this.transposed = undefined;
  }
}
