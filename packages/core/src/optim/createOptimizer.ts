import type { OptimizerSpec } from '../config/optimizer.js';
import { Adam } from './adam.js';
import type { Optimizer } from './optimizer.js';

/** The optimizer a parsed config's `optimizer` block names, over `size` parameters. */
export function createOptimizer(spec: OptimizerSpec, size: number): Optimizer {
  switch (spec.type) {
    case 'adam':
      return new Adam(size, spec);
  }
}
