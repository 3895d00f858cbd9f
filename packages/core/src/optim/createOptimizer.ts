import type { OptimizerSpec } from '../config/optimizer.js';
import { Adam } from './adam.js';
import { AdamW } from './adamw.js';
import type { Optimizer, WeightRange } from './optimizer.js';
import { SGD } from './sgd.js';

/**
 * The optimizer a parsed config's `optimizer` block names, over `size` parameters. `weights`
 * names the tensors of the vector (a model's `ParamLayout.entries`), which AdamW's
 * `excludeFromWeightDecay` matches; left out, the vector is one tensor named "weights".
 */
export function createOptimizer(spec: OptimizerSpec, size: number, weights?: readonly WeightRange[]): Optimizer {
  switch (spec.type) {
    case 'adam':
      return new Adam(size, spec);
    case 'adamw':
      return new AdamW(size, spec, weights);
    case 'sgd':
      return new SGD(size, spec);
  }
}
