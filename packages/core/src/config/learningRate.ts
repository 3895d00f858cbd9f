import { z } from 'zod';

/**
 * An optimizer's `learningRate`: a number, or a schedule object named by `schedule`, with Keras's
 * `keras.optimizers.schedules` arguments in camelCase. optim/schedules.ts evaluates it.
 */

/** Schedules, as `learningRate.schedule` names them. */
export const SCHEDULE_NAMES = ['exponentialDecay', 'piecewiseConstantDecay', 'cosineDecay'] as const;

/** Keras `ExponentialDecay`: `initialLearningRate · decayRate^(step / decaySteps)`, the exponent floored with `staircase`. */
export const exponentialDecaySchema = z.strictObject({
  schedule: z.literal('exponentialDecay'),
  initialLearningRate: z.number().positive(),
  decaySteps: z.number().positive(),
  decayRate: z.number().positive(),
  staircase: z.boolean().default(false),
});

/** Keras `PiecewiseConstantDecay`: `values[0]` up to step `boundaries[0]` (inclusive), … `values[n]` after `boundaries[n-1]`. */
export const piecewiseConstantDecaySchema = z.strictObject({
  schedule: z.literal('piecewiseConstantDecay'),
  boundaries: z.array(z.int().min(0)).min(1),
  values: z.array(z.number().min(0)).min(2),
});

/**
 * Keras `CosineDecay`: with `warmupTarget`, a linear climb from `initialLearningRate` to it over
 * `warmupSteps`, then a cosine from it down to `alpha` times it over `decaySteps`; without, the
 * cosine starts from `initialLearningRate`.
 */
export const cosineDecaySchema = z.strictObject({
  schedule: z.literal('cosineDecay'),
  initialLearningRate: z.number().min(0),
  decaySteps: z.number().positive(),
  alpha: z.number().min(0).max(1).default(0),
  warmupTarget: z.number().positive().optional(),
  warmupSteps: z.int().min(0).default(0),
});

const scheduleSchema = z.discriminatedUnion('schedule', [exponentialDecaySchema, piecewiseConstantDecaySchema, cosineDecaySchema], {
  error: (issue) => {
    if (issue.code !== 'invalid_union') return undefined;
    const name = (issue.input as { schedule?: unknown } | undefined)?.schedule;
    const expected = `expected one of ${SCHEDULE_NAMES.join(', ')}`;
    return name === undefined ? `a schedule needs "schedule"; ${expected}` : `unknown schedule ${JSON.stringify(name)}; ${expected}`;
  },
});

const constantSchema = z.number({ error: (issue) => (issue.code === 'invalid_type' ? 'expected a number > 0 or a schedule object' : undefined) }).positive();

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A number > 0 or a schedule. Parsed by whichever of the two the value's type asks for, so that
 * an error names the field that is wrong (`learningRate.decaySteps`) rather than "no union member
 * matched".
 */
export const learningRateSchema = z.unknown().transform((input, ctx): LearningRate => {
  const result = isObject(input) ? scheduleSchema.safeParse(input) : constantSchema.safeParse(input);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ ...issue });
  return z.NEVER;
});

export type ExponentialDecay = z.infer<typeof exponentialDecaySchema>;
export type PiecewiseConstantDecay = z.infer<typeof piecewiseConstantDecaySchema>;
export type CosineDecay = z.infer<typeof cosineDecaySchema>;
export type LearningRateSchedule = z.infer<typeof scheduleSchema>;
export type ScheduleName = LearningRateSchedule['schedule'];
/** A parsed `learningRate`: a constant, or a schedule of the global step. */
export type LearningRate = number | LearningRateSchedule;

/** One problem the schema cannot see, at a path inside `learningRate`. */
export interface FieldProblem {
  path: (string | number)[];
  message: string;
}

/**
 * The checks across a schedule's fields (Keras raises on most of them), run on the raw value
 * before the schema so that the problem can be reported where the user wrote it. Values of the
 * wrong type are left to the schema.
 */
export function learningRateProblems(raw: unknown): FieldProblem[] {
  if (!isObject(raw)) return [];
  const schedule = raw as Record<string, unknown>;
  if (schedule.schedule === 'piecewiseConstantDecay') {
    const { boundaries, values } = schedule;
    if (!Array.isArray(boundaries) || !Array.isArray(values)) return [];
    const problems: FieldProblem[] = [];
    if (values.length !== boundaries.length + 1) {
      problems.push({ path: ['values'], message: `has ${values.length} values for ${boundaries.length} boundaries; needs one more value than boundaries` });
    }
    const falling = boundaries.findIndex((b, i) => i > 0 && typeof b === 'number' && typeof boundaries[i - 1] === 'number' && b <= boundaries[i - 1]);
    if (falling > 0) {
      problems.push({ path: ['boundaries', falling], message: `${boundaries[falling]} does not exceed ${boundaries[falling - 1]}; boundaries must increase` });
    }
    return problems;
  }
  if (schedule.schedule === 'cosineDecay' && schedule.warmupTarget === undefined && typeof schedule.warmupSteps === 'number' && schedule.warmupSteps > 0) {
    return [{ path: ['warmupSteps'], message: 'a warmup needs "warmupTarget", the learning rate it climbs to' }];
  }
  return [];
}
