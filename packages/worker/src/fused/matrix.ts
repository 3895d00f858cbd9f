import * as tf from '@tensorflow/tfjs';

/**
 * The fused path's matrix helpers: row-major Float32Arrays on the JavaScript side, one backend
 * matMul per product, and the explicit transposes and reorderings between them.
 */

/** Reads a tensor's values without allocating: a view of the wasm heap, else the backend's own array. */
export function valuesOf(t: tf.Tensor): Float32Array {
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.Tensor) => Float32Array };
  return backend.typedArrayFromHeap ? backend.typedArrayFromHeap(t) : (t.dataSync() as Float32Array);
}

/** a (a row-major typed array of `shape`) times b (a tensor on the backend), written into `out`. */
export function matMul(a: Float32Array, shape: [number, number], b: tf.Tensor2D, out: Float32Array): Float32Array {
  const left = tf.tensor2d(a, shape);
  const product = tf.matMul(left, b);
  try {
    out.set(valuesOf(product));
    return out;
  } finally {
    left.dispose();
    product.dispose();
  }
}

/** A row-major [rows x cols] matrix transposed (explicitly: transposed matMuls are slow on wasm). */
export function transpose(a: Float32Array, rows: number, cols: number, out = new Float32Array(rows * cols)): Float32Array {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/** [H, T*B] from time-major hidden states [T*B, H]: column t*B+b holds h_{t-1} of sample b (zeros for t = 0), i.e. H_prev^T. */
export function shiftedTranspose(hidden: Float32Array, T: number, B: number, H: number, out: Float32Array): Float32Array {
  const cols = T * B;
  for (let j = 0; j < H; j++) out.fill(0, j * cols, j * cols + B);
  for (let row = B; row < cols; row++) {
    const from = (row - B) * H;
    for (let j = 0; j < H; j++) out[j * cols + row] = hidden[from + j]!;
  }
  return out;
}

/** Sample-major [B, T, F] to time-major [T*B, F]. */
export function timeMajor(x: Float32Array, B: number, T: number, F: number, out: Float32Array): Float32Array {
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out.set(x.subarray((b * T + t) * F, (b * T + t + 1) * F), (t * B + b) * F);
  return out;
}
