import { describe, expect, it } from 'vitest';
import { workerJobSchema, workerMessageSchema } from '../wire/protocol.js';
import { ACTIVATION_NAMES, BACKEND_NAMES, LAYER_TYPES, LOSS_NAMES, METRIC_NAMES, RESOLVED_BACKEND_NAMES } from './names.js';
import { jobConfigSchema, layerSpecSchema } from './schema.js';

// The enums of the config and of the protocol are built from names.ts: one list per fact.
describe('name lists', () => {
  it('are the options of the config enums', () => {
    const shape = jobConfigSchema.shape;
    expect(shape.loss.options).toEqual([...LOSS_NAMES]);
    expect(shape.metrics.unwrap().element.options).toEqual([...METRIC_NAMES]);
    expect(shape.backend.unwrap().options).toEqual([...BACKEND_NAMES]);
    for (const type of ['dense', 'lstm']) {
      const layer = layerSpecSchema.options.find((o) => o.shape.type.value === type)!;
      expect(layer.shape).toMatchObject({ activation: { def: { innerType: { options: [...ACTIVATION_NAMES] } } } });
    }
    expect(layerSpecSchema.options.map((o) => o.shape.type.value)).toEqual([...LAYER_TYPES]);
  });

  it('are the options of the protocol enums', () => {
    const shape = workerJobSchema.shape;
    expect(shape.loss.options).toEqual([...LOSS_NAMES]);
    expect(shape.metrics.element.options).toEqual([...METRIC_NAMES]);
    expect(shape.backend.options).toEqual([...BACKEND_NAMES]);
    const ready = workerMessageSchema.options.find((o) => o.shape.type.value === 'ready')!;
    expect(ready.shape).toMatchObject({ backend: { options: [...RESOLVED_BACKEND_NAMES] } });
  });

  it('resolve every backend but auto', () => {
    expect(BACKEND_NAMES.filter((n) => n !== 'auto')).toEqual([...RESOLVED_BACKEND_NAMES]);
  });
});
