import { z } from 'zod';
import { OPTIMIZER_NAMES } from './names.js';

/**
 * The `optimizer` block of a job config. Users write it keyed by name, as since the first
 * release: `"optimizer": { "adam": { "learningRate": 0.001 } }`. It parses to a tagged union,
 * `{ type: 'adam', learningRate, ... }`, which is also accepted as input, so that a parsed config
 * (as saved beside a model) parses again to itself. Left out, it is Adam with its defaults.
 */

const adamFields = {
  learningRate: z.number().positive().default(0.001),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  /** tf.train.adam's default: the float32 backend epsilon. */
  epsilon: z.number().positive().default(1e-7),
  /** Use `lr * m_hat / sqrt(v_hat + eps)` (as in many Adam tutorials) instead of `/ (sqrt(v_hat) + eps)`. */
  epsilonInsideSqrt: z.boolean().default(false),
  /**
   * Update an embedding's Adam moments only for the rows a step touched ("lazy Adam"). Faster
   * for large vocabularies, but no longer equal to single-process training: untouched rows'
   * moments do not decay. Off by default.
   */
  lazyEmbedding: z.boolean().default(false),
};

export const adamSpecSchema = z.strictObject({ type: z.literal('adam'), ...adamFields });

const taggedOptimizerSchema = z.discriminatedUnion('type', [adamSpecSchema]);

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const known = (name: string): boolean => (OPTIMIZER_NAMES as readonly string[]).includes(name);

/** Whether a raw `optimizer` value uses the keyed form (`{ "adam": {...} }`) rather than `type`. */
export function isKeyedOptimizer(raw: unknown): raw is Record<string, unknown> {
  return isPlainObject(raw) && !('type' in raw);
}

/** Turns the keyed form into the tagged one; leaves anything else to the union to judge. */
function toTagged(raw: unknown, ctx: z.core.$RefinementCtx): unknown {
  if (!isKeyedOptimizer(raw)) return raw;
  const names = Object.keys(raw);
  const expected = `expected one of ${OPTIMIZER_NAMES.join(', ')}`;
  if (names.length === 0) return { type: 'adam' };
  if (names.length > 1) {
    ctx.addIssue({ code: 'custom', message: `name one optimizer, not ${names.map((n) => JSON.stringify(n)).join(', ')}; ${expected}` });
    return z.NEVER;
  }
  const name = names[0]!;
  if (!known(name)) {
    ctx.addIssue({ code: 'custom', message: `unknown optimizer ${JSON.stringify(name)}; ${expected}` });
    return z.NEVER;
  }
  const fields = raw[name];
  if (fields === undefined) return { type: name };
  if (!isPlainObject(fields)) {
    ctx.addIssue({ code: 'custom', path: [name], message: `expected an object of ${name} settings` });
    return z.NEVER;
  }
  if ('type' in fields) {
    ctx.addIssue({ code: 'custom', path: [name], message: 'unknown field "type"' });
    return z.NEVER;
  }
  return { ...fields, type: name };
}

// A function default: each config gets its own object, never one shared default.
export const optimizerSpecSchema = z.preprocess(toTagged, taggedOptimizerSchema).default(() => adamSpecSchema.parse({ type: 'adam' }));

/** A parsed optimizer block: one member per optimizer, told apart by `type`. */
export type OptimizerSpec = z.infer<typeof taggedOptimizerSchema>;
export type AdamSpec = z.infer<typeof adamSpecSchema>;
/** Adam's hyperparameters, without the tag: what `new Adam(size, config)` takes. */
export type AdamConfig = Omit<AdamSpec, 'type'>;
