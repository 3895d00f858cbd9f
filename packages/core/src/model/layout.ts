import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.js';

/** Where one weight lives in the flat parameter vector. */
export interface ParamEntry {
  /** The weight's name in the model, e.g. "dense_1/kernel". */
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

/**
 * Every trainable weight of a model laid end to end in one Float32Array, in the model's weight
 * order. The parameter server, the wire and Adam all work on this one flat vector.
 */
export class ParamLayout {
  readonly size: number;

  constructor(readonly entries: readonly ParamEntry[]) {
    this.size = entries.reduce((n, e) => n + e.size, 0);
  }

  static fromModel(model: tf.LayersModel): ParamLayout {
    let offset = 0;
    const entries = model.weights.map((w) => {
      if (!w.trainable) throw new ShapeError(`weight ${w.originalName} is not trainable; Adamant trains every weight`);
      const shape = w.shape.map((d) => d ?? 0);
      const size = shape.reduce((a, b) => a * b, 1);
      const entry: ParamEntry = { name: w.originalName, shape, offset, size };
      offset += size;
      return entry;
    });
    return new ParamLayout(entries);
  }

  /** Checks that `model` has exactly this layout (names and shapes), naming the first mismatch. */
  assertMatches(model: tf.LayersModel, what: string): void {
    const other = ParamLayout.fromModel(model);
    if (other.entries.length !== this.entries.length) {
      throw new ShapeError(`${what}: has ${other.entries.length} weights, expected ${this.entries.length}`);
    }
    this.entries.forEach((e, i) => {
      const o = other.entries[i]!;
      if (o.name !== e.name || o.shape.join(',') !== e.shape.join(',')) {
        throw new ShapeError(`${what}: weight ${i} is ${o.name} [${o.shape}], expected ${e.name} [${e.shape}]`);
      }
    });
  }

  /** Copies the model's current weights into `out` (allocated when absent). */
  read(model: tf.LayersModel, out: Float32Array = new Float32Array(this.size)): Float32Array {
    model.weights.forEach((w, i) => {
      const e = this.entries[i]!;
      out.set(w.read().dataSync() as Float32Array, e.offset);
    });
    return out;
  }

  /** Sets the model's weights from a flat vector. */
  write(model: tf.LayersModel, flat: Float32Array): void {
    if (flat.length !== this.size) throw new ShapeError(`expected ${this.size} parameters, got ${flat.length}`);
    tf.tidy(() => {
      model.weights.forEach((w, i) => {
        const e = this.entries[i]!;
        w.write(tf.tensor(flat.subarray(e.offset, e.offset + e.size), e.shape, 'float32'));
      });
    });
  }

  /** "dense_1/kernel[5]": the weight and element flat parameter `index` falls in ("parameter 9" past the end). */
  nameAt(index: number): string {
    const entry = this.entries.find((e) => index >= e.offset && index < e.offset + e.size);
    return entry ? `${entry.name}[${index - entry.offset}]` : `parameter ${index}`;
  }

  /** One view per weight into a flat vector (no copies), in layout order. */
  views(flat: Float32Array): Float32Array[] {
    return this.entries.map((e) => flat.subarray(e.offset, e.offset + e.size));
  }
}

/** `layout.nameAt(index)` as a function: "dense_1/kernel[5]". */
export function weightNameAt(layout: ParamLayout, index: number): string {
  return layout.nameAt(index);
}
