import { z } from 'zod';
import { learningRateProblems, learningRateSchema, type LearningRate } from './learningRate.js';
import { OPTIMIZER_NAMES } from './names.js';

/**
 * The `optimizer` block of a job config. Users write it keyed by name, as since the first
 * release: `"optimizer": { "adam": { "learningRate": 0.001 } }`. It parses to a tagged union,
 * `{ type: 'adam', learningRate, ... }`, which is also accepted as input, so that a parsed config
 * (as saved beside a model) parses again to itself. Left out, it is Adam with its defaults.
 * Field names and defaults are Keras's, in camelCase.
 */

/**
 * Gradient clipping, on every optimizer as in Keras, applied by the parameter server to the
 * batch-mean gradient before the update (optim/clipping.ts). At most one is set; left out, none.
 */
const clippingFields = {
  /** Each weight tensor's gradient scaled down to this L2 norm when longer (Keras `clipnorm`). */
  clipnorm: z.number().positive().optional(),
  /** All gradients scaled together to this global L2 norm when longer (Keras `global_clipnorm`). */
  globalClipnorm: z.number().positive().optional(),
  /** Each gradient value clipped to [-clipvalue, clipvalue] (Keras `clipvalue`). */
  clipvalue: z.number().positive().optional(),
};

export const CLIPPING_FIELDS = ['clipnorm', 'globalClipnorm', 'clipvalue'] as const;

const momentFields = {
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  /** tf.train.adam's default: the float32 backend epsilon. */
  epsilon: z.number().positive().default(1e-7),
};

export const adamSpecSchema = z.strictObject({
  type: z.literal('adam'),
  learningRate: learningRateSchema.default(0.001),
  ...momentFields,
  /** Use `lr * m_hat / sqrt(v_hat + eps)` (as in many Adam tutorials) instead of `/ (sqrt(v_hat) + eps)`. */
  epsilonInsideSqrt: z.boolean().default(false),
  /**
   * Update an embedding's Adam moments only for the rows a step touched ("lazy Adam"). Faster
   * for large vocabularies, but no longer equal to single-process training: untouched rows'
   * moments do not decay. Off by default.
   */
  lazyEmbedding: z.boolean().default(false),
  ...clippingFields,
});

/** Keras `AdamW`: Adam after a decoupled weight decay `w -= lr · weightDecay · w`. */
export const adamwSpecSchema = z.strictObject({
  type: z.literal('adamw'),
  learningRate: learningRateSchema.default(0.001),
  weightDecay: z.number().min(0).default(0.004),
  /** Weights whose name contains one of these strings are not decayed (Keras `exclude_from_weight_decay(var_names=...)`). */
  excludeFromWeightDecay: z.array(z.string().min(1)).default(() => []),
  ...momentFields,
  ...clippingFields,
});

/** Keras `SGD`: plain, with momentum, or Nesterov momentum. */
export const sgdSpecSchema = z.strictObject({
  type: z.literal('sgd'),
  learningRate: learningRateSchema.default(0.01),
  momentum: z.number().min(0).max(1).default(0),
  nesterov: z.boolean().default(false),
  ...clippingFields,
});

const taggedOptimizerSchema = z.discriminatedUnion('type', [adamSpecSchema, adamwSpecSchema, sgdSpecSchema]);

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const known = (name: string): boolean => (OPTIMIZER_NAMES as readonly string[]).includes(name);

/** Whether a raw `optimizer` value uses the keyed form (`{ "adam": {...} }`) rather than `type`. */
export function isKeyedOptimizer(raw: unknown): raw is Record<string, unknown> {
  return isPlainObject(raw) && !('type' in raw);
}

/**
 * The checks across an optimizer's fields, on its raw settings, with paths from `at` (where the
 * user wrote them): one clipping mode at most, lazy embeddings for Adam only, and the schedule's
 * own cross-field rules.
 */
function checkFields(name: unknown, fields: Record<string, unknown>, at: (string | number)[], ctx: z.core.$RefinementCtx): void {
  const clipping = CLIPPING_FIELDS.filter((field) => fields[field] !== undefined);
  if (clipping.length > 1) {
    ctx.addIssue({ code: 'custom', path: at, message: `set one of ${CLIPPING_FIELDS.join(', ')}, not ${clipping.join(' and ')} (as in Keras)` });
  }
  if (name !== 'adam' && fields.lazyEmbedding !== undefined && known(String(name))) {
    ctx.addIssue({ code: 'custom', path: [...at, 'lazyEmbedding'], message: `lazy embedding updates exist for adam only; ${String(name)} updates every row` });
  }
  for (const problem of learningRateProblems(fields.learningRate)) {
    ctx.addIssue({ code: 'custom', path: [...at, 'learningRate', ...problem.path], message: problem.message });
  }
}

/** Turns the keyed form into the tagged one; leaves anything else to the union to judge. */
function toTagged(raw: unknown, ctx: z.core.$RefinementCtx): unknown {
  if (!isKeyedOptimizer(raw)) {
    if (isPlainObject(raw)) checkFields(raw.type, raw, [], ctx);
    return raw;
  }
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
  checkFields(name, fields, [name], ctx);
  return { ...fields, type: name };
}

// A function default: each config gets its own object, never one shared default.
export const optimizerSpecSchema = z.preprocess(toTagged, taggedOptimizerSchema).default(() => adamSpecSchema.parse({ type: 'adam' }));

/** A parsed optimizer block: one member per optimizer, told apart by `type`. */
export type OptimizerSpec = z.infer<typeof taggedOptimizerSchema>;
export type AdamSpec = z.infer<typeof adamSpecSchema>;
export type AdamWSpec = z.infer<typeof adamwSpecSchema>;
export type SgdSpec = z.infer<typeof sgdSpecSchema>;
/** Adam's hyperparameters, without the tag: what `new Adam(size, config)` takes. */
export type AdamConfig = Omit<AdamSpec, 'type'>;
/** The clipping fields every optimizer spec may carry. */
export type ClippingSpec = Pick<AdamSpec, (typeof CLIPPING_FIELDS)[number]>;
export type { LearningRate };
