import { activate, activationBackward, ShapeError, type LayerSpec } from '@adamant/core';
import type { ConstantMatrix, GemmEngine } from '../gemm/GemmEngine.js';
import type { Activations, ForwardMode, FusedLayer, LayerContext, Scratch } from './FusedLayer.js';
import { addInto, NO_INPUT_GRADIENT } from './recurrent.js';

export type DenseSpec = Extract<LayerSpec, { type: 'dense' }>;

/** The offsets of a dense layer's kernel [inputs, units] and, with useBias, its bias [units]; checks their sizes. */
export function denseWeights(spec: DenseSpec, ctx: LayerContext): { inputs: number; kernel: number; bias?: number } {
  if (ctx.input.kind !== 'vector') {
    const hint = 'end the sequence with returnSequences false or a pooling layer';
    throw new ShapeError(`layer ${ctx.index} (dense) needs one vector per sample, got a sequence; ${hint}`);
  }
  const inputs = ctx.input.width;
  const [kernel, bias] = ctx.weights;
  const count = spec.useBias ? 2 : 1;
  if (ctx.weights.length !== count || kernel?.size !== inputs * spec.units || (spec.useBias && bias?.size !== spec.units)) {
    throw new ShapeError(`layer ${ctx.index} (dense): expected a ${inputs}x${spec.units} kernel${spec.useBias ? ` and a bias of ${spec.units}` : ''}`);
  }
  return { inputs, kernel: kernel.offset, ...(bias ? { bias: bias.offset } : {}) };
}

/**
 * A hidden dense layer on the fused path: y = activation(x W + b) for one vector per sample,
 * with x W, dX = dZ W^T and dW = X^T dZ as products on the GEMM engine and the bias and activation in
 * typed-array loops (core's activate / activationBackward, tfjs's definitions). The model's
 * last dense layer is its head (head.ts), which hands its pre-activations to the loss instead.
 */
export class FusedDense implements FusedLayer {
  readonly index: number;
  readonly input: Activations;
  readonly output: Activations;
  private readonly spec: DenseSpec;
  private readonly inputs: number;
  private readonly offsets: { kernel: number; bias?: number };
  private readonly bias: Float32Array;
  private readonly scratch: Scratch;
  private readonly gemm: GemmEngine;
  /** W [inputs, units], kept by the engine. */
  private readonly kernel: ConstantMatrix;
  private weightsSet = false;
  private tape?: { input: Float32Array; preActivation: Float32Array; output: Float32Array; batch: number };

  constructor(spec: DenseSpec, ctx: LayerContext) {
    const { inputs, ...offsets } = denseWeights(spec, ctx);
    this.index = ctx.index;
    this.input = ctx.input;
    this.output = { kind: 'vector', width: spec.units };
    this.spec = spec;
    this.inputs = inputs;
    this.offsets = offsets;
    this.bias = new Float32Array(spec.units);
    this.scratch = ctx.scratch;
    this.gemm = ctx.gemm;
    this.kernel = ctx.gemm.constantMatrix(inputs, spec.units);
  }

  setWeights(flat: Float32Array): void {
    const [I, U] = [this.inputs, this.spec.units];
    this.kernel.set(flat.subarray(this.offsets.kernel, this.offsets.kernel + I * U));
    if (this.offsets.bias !== undefined) this.bias.set(flat.subarray(this.offsets.bias, this.offsets.bias + U));
    this.weightsSet = true;
  }

  private buffer(name: string, length: number): Float32Array<ArrayBuffer> {
    return this.scratch.get(`${this.index}.dense.${name}`, length);
  }

  forward(input: Float32Array, B: number, mode: ForwardMode): Float32Array {
    const [I, U] = [this.inputs, this.spec.units];
    if (!this.weightsSet) throw new ShapeError(`layer ${this.index} (dense): forward before setWeights`);
    if (input.length !== B * I) throw new ShapeError(`layer ${this.index} (dense): input of ${input.length} values, expected ${B}x${I}`);
    const z = this.kernel.multiply(input, B, false, this.buffer('preActivation', B * U));
    // tfjs adds the bias to the float32 product (biasAdd), then activates.
    if (this.offsets.bias !== undefined) for (let k = 0; k < B * U; k++) z[k] = z[k]! + this.bias[k % U]!;
    const output = this.spec.activation === 'linear' ? z : activate(this.spec.activation, z, B, U, this.buffer('output', B * U));
    this.tape = mode.training ? { input, preActivation: z, output, batch: B } : undefined;
    return output;
  }

  backward(dOutput: Float32Array, B: number, grads: Float32Array, needInput: boolean): Float32Array {
    const [I, U] = [this.inputs, this.spec.units];
    const tape = this.tape;
    if (!tape || tape.batch !== B) throw new ShapeError(`layer ${this.index} (dense): backward without a training forward of ${B} samples`);
    if (dOutput.length !== B * U) throw new ShapeError(`layer ${this.index} (dense): output gradient of ${dOutput.length} values, expected ${B}x${U}`);
    const dZ = activationBackward(this.spec.activation, tape.preActivation, tape.output, dOutput, B, U, this.buffer('dPreActivation', B * U));
    const dKernel = this.buffer('dKernel', I * U);
    this.gemm.gemm(true, false, I, U, B, tape.input, dZ, dKernel);
    addInto(grads, this.offsets.kernel, dKernel);
    const bias = this.offsets.bias;
    if (bias !== undefined) for (let b = 0; b < B; b++) for (let u = 0; u < U; u++) grads[bias + u] = grads[bias + u]! + dZ[b * U + u]!;
    return needInput ? this.kernel.multiply(dZ, B, true, this.buffer('dInput', B * I)) : NO_INPUT_GRADIENT;
  }

  dispose(): void {
    this.kernel.dispose();
    this.weightsSet = false;
    this.tape = undefined;
  }
}
