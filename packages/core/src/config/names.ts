/**
 * The closed sets of names a job config and the wire protocol accept. Each is written once, here:
 * the zod enums of the config and of the protocol are built from these arrays, and the types are
 * derived from them, so adding a name is one edit.
 */

/** TensorFlow.js backends a process can run on, fastest first: the order `auto` tries them in. */
export const RESOLVED_BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;

/** What a config or the command line may ask for: a backend, or `auto` for the fastest available. */
export const BACKEND_NAMES = ['auto', ...RESOLVED_BACKEND_NAMES] as const;

/** Losses, named as in Keras; model/losses.ts computes them. */
export const LOSS_NAMES = ['meanSquaredError', 'binaryCrossentropy'] as const;

/** Metrics reported beside the loss; model/losses.ts computes them. */
export const METRIC_NAMES = ['accuracy', 'mae'] as const;

/** Activations a dense or lstm layer may use (tfjs-layers' names). */
export const ACTIVATION_NAMES = ['linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'elu', 'selu', 'softplus'] as const;

/** Layer types, in the order error messages list them. */
export const LAYER_TYPES = ['dense', 'embedding', 'lstm', 'dropout'] as const;

/** Optimizers the parameter server can run. */
export const OPTIMIZER_NAMES = ['adam'] as const;

export type BackendName = (typeof BACKEND_NAMES)[number];
export type ResolvedBackend = (typeof RESOLVED_BACKEND_NAMES)[number];
export type LossName = (typeof LOSS_NAMES)[number];
export type MetricName = (typeof METRIC_NAMES)[number];
export type ActivationName = (typeof ACTIVATION_NAMES)[number];
export type LayerType = (typeof LAYER_TYPES)[number];
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];
