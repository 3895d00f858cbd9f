/** Sample-major [B, T, F] to time-major [T*B, F], the layout of the fused path's sequences. */
export function timeMajor(x: Float32Array, B: number, T: number, F: number, out: Float32Array): Float32Array {
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out.set(x.subarray((b * T + t) * F, (b * T + t + 1) * F), (t * B + b) * F);
  return out;
}
