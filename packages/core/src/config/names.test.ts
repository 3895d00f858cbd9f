import { describe, expect, it } from 'vitest';
import { workerJobSchema, workerMessageSchema } from '../wire/protocol.js';
import {
  ACTIVATION_NAMES,
  BACKEND_NAMES,
  BINARY_METRICS,
  CLASSIFICATION_LOSSES,
  isClassificationLoss,
  LAYER_TYPES,
  LOSS_NAMES,
  MERGE_MODES,
  METRIC_NAMES,
  RECURRENT_LAYER_TYPES,
  RESOLVED_BACKEND_NAMES,
} from './names.js';
import { jobConfigSchema, layerSpecSchema } from './schema.js';

// The enums of the config and of the protocol are built from names.ts: one list per fact.
describe('name lists', () => {
  it('are the options of the config enums', () => {
    const shape = jobConfigSchema.shape;
    expect(shape.loss.options).toEqual([...LOSS_NAMES]);
    expect(shape.metrics.unwrap().element.options).toEqual([...METRIC_NAMES]);
    expect(shape.backend.unwrap().options).toEqual([...BACKEND_NAMES]);
    for (const type of ['dense', 'lstm', 'gru']) {
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

  it('are the options of the bidirectional layer: what it wraps and how it merges', () => {
    type LayerSchema = (typeof layerSpecSchema.options)[number];
    type Bidirectional = Extract<LayerSchema, { shape: { type: { value: 'bidirectional' } } }>;
    const bidirectional = layerSpecSchema.options.find((o): o is Bidirectional => o.shape.type.value === 'bidirectional')!;
    expect(bidirectional.shape.mergeMode.unwrap().options).toEqual([...MERGE_MODES]);
    expect(bidirectional.shape.layer.options.map((o) => o.shape.type.value)).toEqual([...RECURRENT_LAYER_TYPES]);
  });

  it('name subsets of the losses and metrics', () => {
    expect(CLASSIFICATION_LOSSES.every((l) => (LOSS_NAMES as readonly string[]).includes(l))).toBe(true);
    expect(BINARY_METRICS.every((m) => (METRIC_NAMES as readonly string[]).includes(m))).toBe(true);
    expect(LOSS_NAMES.filter(isClassificationLoss)).toEqual([...CLASSIFICATION_LOSSES]);
  });

  it('resolve every backend but auto', () => {
    expect(BACKEND_NAMES.filter((n) => n !== 'auto')).toEqual([...RESOLVED_BACKEND_NAMES]);
  });
});
