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
export const LOSS_NAMES = [
  'meanSquaredError',
  'meanAbsoluteError',
  'huber',
  'binaryCrossentropy',
  'sparseCategoricalCrossentropy',
  'categoricalCrossentropy',
] as const;

/** Losses whose targets are class labels (the rest regress numbers). */
export const CLASSIFICATION_LOSSES = ['binaryCrossentropy', 'sparseCategoricalCrossentropy', 'categoricalCrossentropy'] as const satisfies readonly LossName[];

/** Metrics reported beside the loss; model/losses.ts computes them. */
export const METRIC_NAMES = ['accuracy', 'mae', 'auc', 'precision', 'recall'] as const;

/** Metrics defined only for a binary (one sigmoid unit) head. */
export const BINARY_METRICS = ['auc', 'precision', 'recall'] as const satisfies readonly MetricName[];

/** Activations a dense or lstm layer may use (tfjs-layers' names). */
export const ACTIVATION_NAMES = ['linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'elu', 'selu', 'softplus'] as const;

/** Layer types, in the order error messages list them. */
export const LAYER_TYPES = ['dense', 'embedding', 'lstm', 'gru', 'bidirectional', 'dropout', 'globalAveragePooling1d', 'globalMaxPooling1d'] as const;

/** Recurrent layers: the ones a bidirectional layer may wrap. */
export const RECURRENT_LAYER_TYPES = ['lstm', 'gru'] as const satisfies readonly LayerType[];

/** How a bidirectional layer merges its forward and backward outputs (Keras `merge_mode`). */
export const MERGE_MODES = ['concat', 'sum', 'ave', 'mul'] as const;

/** Optimizers the parameter server can run. */
export const OPTIMIZER_NAMES = ['adam', 'adamw', 'sgd'] as const;

export type BackendName = (typeof BACKEND_NAMES)[number];
export type ResolvedBackend = (typeof RESOLVED_BACKEND_NAMES)[number];
export type LossName = (typeof LOSS_NAMES)[number];
export type MetricName = (typeof METRIC_NAMES)[number];
export type ActivationName = (typeof ACTIVATION_NAMES)[number];
export type LayerType = (typeof LAYER_TYPES)[number];
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];
export type ClassificationLoss = (typeof CLASSIFICATION_LOSSES)[number];
export type MergeMode = (typeof MERGE_MODES)[number];

export const isClassificationLoss = (loss: string): loss is ClassificationLoss => (CLASSIFICATION_LOSSES as readonly string[]).includes(loss);
