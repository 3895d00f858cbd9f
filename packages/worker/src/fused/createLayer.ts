import { ShapeError, type LayerSpec, type LayerType } from '@adamant/core';
import { FusedBidirectional } from './bidirectional.js';
import { FusedDense } from './dense.js';
import { FusedDropout } from './dropout.js';
import { FusedEmbedding } from './embedding.js';
import type { FusedLayer, LayerContext } from './FusedLayer.js';
import { FusedGru } from './gru.js';
import { FusedLstm } from './lstm.js';
import { FusedGlobalPooling1d } from './pooling.js';

type Constructors = { [Type in LayerType]?: (spec: Extract<LayerSpec, { type: Type }>, ctx: LayerContext) => FusedLayer };

/** The fused implementation of each layer type that has one; a new layer type is one line here. */
const FUSED_LAYERS: Constructors = {
  embedding: (spec, ctx) => new FusedEmbedding(spec, ctx),
  lstm: (spec, ctx) => new FusedLstm(spec, ctx),
  gru: (spec, ctx) => new FusedGru(spec, ctx),
  bidirectional: (spec, ctx) => new FusedBidirectional(spec, ctx, (inner, at) => (inner.type === 'lstm' ? new FusedLstm(inner, at) : new FusedGru(inner, at))),
  dropout: (spec, ctx) => new FusedDropout(spec, ctx),
  globalAveragePooling1d: (spec, ctx) => new FusedGlobalPooling1d(spec, ctx),
  globalMaxPooling1d: (spec, ctx) => new FusedGlobalPooling1d(spec, ctx),
  dense: (spec, ctx) => new FusedDense(spec, ctx),
};

/** Whether every layer of a model has a fused implementation (core's fusedSupport checks the rest). */
export function hasFusedLayers(layers: readonly LayerSpec[]): boolean {
  return layers.every((layer) => FUSED_LAYERS[layer.type] !== undefined);
}

/** The fused layer for `spec` at `ctx.index`. */
export function createLayer(spec: LayerSpec, ctx: LayerContext): FusedLayer {
  const create = FUSED_LAYERS[spec.type] as ((spec: LayerSpec, ctx: LayerContext) => FusedLayer) | undefined;
  if (!create) throw new ShapeError(`layer ${ctx.index} (${spec.type}) has no fused implementation`);
  return create(spec, ctx);
}
