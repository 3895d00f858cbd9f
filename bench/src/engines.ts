import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describeEngine, type GemmEngine, probeGemmEngines } from '@adamant/worker';
import { GemmReplay, RecordingEngine } from './gemmReplay.js';
import { progress, sideBySide } from './measure.js';
import { type BenchRow, skippedRow } from './results.js';
import { FLOP_PER_TOKEN, fusedTrainer, REFERENCE, referenceLayers, tokensPerSecond } from './textModels.js';

const SECTION = 'lstm';
/** The gate-shaped product of the reference model's first LSTM: [64 x (64 + 128)] x [192 x 4*128]. */
const GATE = { M: 64, K: 192, N: 512 };
const GATE_FLOP = 2 * GATE.M * GATE.K * GATE.N;
const STEP_FLOP = REFERENCE.batch * REFERENCE.length * FLOP_PER_TOKEN;
const SIZES = 'reference model, one batch of 64 x 100 tokens in chunks of 32 (0.885 MFLOP/token), one thread, wasm backend';

/** One engine's three candidates: the fused step, its own products replayed alone, and one gate-shaped product. */
function candidatesOf(engine: GemmEngine) {
  const recorder = new RecordingEngine(engine);
  const trainer = fusedTrainer(REFERENCE, referenceLayers(REFERENCE), { gemm: recorder });
  recorder.recording = true;
  trainer.step();
  recorder.recording = false;
  const replay = new GemmReplay(engine, recorder);
  const a = Float32Array.from({ length: GATE.M * GATE.K }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: GATE.K * GATE.N }, (_, i) => Math.cos(i));
  const out = new Float32Array(GATE.M * GATE.N);
  return {
    fused: trainer.step,
    replay: () => replay.run(),
    gate: () => engine.gemm(false, false, GATE.M, GATE.N, GATE.K, a, b, out),
    replayFlop: replay.flop,
    products: replay.products,
    dispose: () => {
      trainer.dispose();
      replay.dispose();
    },
  };
}

/**
 * Each GEMM engine that loads, timed in one alternation: the fused path's training step on it,
 * the step's own products replayed alone on it, and one gate-shaped product. Rows: the fused path
 * against the engine's gate GEMM (how close it gets to the ceiling), the step against its own
 * products (the share of the step that is GEMM), and the engines against each other.
 */
export async function engineRows(): Promise<BenchRow[]> {
  await tf.setBackend('wasm');
  const probed = probeGemmEngines();
  const engines = probed.flatMap(({ engine }) => (engine ? [engine] : []));
  progress(`lstm: fused path per engine (${engines.map(describeEngine).join(', ')})`);
  const sides = engines.map(candidatesOf);
  const candidates: Record<string, () => void> = {};
  engines.forEach(({ name }, k) => {
    candidates[`${name}.fused`] = sides[k]!.fused;
    candidates[`${name}.replay`] = sides[k]!.replay;
    candidates[`${name}.gate`] = sides[k]!.gate;
  });
  const timing = await sideBySide(candidates, { rounds: 5, minMs: 700 });
  for (const side of sides) side.dispose();
  const rows: BenchRow[] = [];
  engines.forEach((engine, k) => {
    const { name } = engine;
    const ns = (what: string) => timing.ns[`${name}.${what}`]!;
    const tokens = tokensPerSecond(REFERENCE, ns('fused'));
    const fusedSide = { label: `fused LSTM training (${Math.round(tokens).toLocaleString('en-US')} tok/s)`, value: STEP_FLOP / ns('fused'), unit: 'GFLOP/s' };
    rows.push(
      {
        section: SECTION,
        name: `fused path vs its engine's gate GEMM: ${describeEngine(engine)}`,
        sizes: `${SIZES}; GEMM [${GATE.M}x${GATE.K}]x[${GATE.K}x${GATE.N}]`,
        a: fusedSide,
        b: { label: `${name} gemm`, value: GATE_FLOP / ns('gate'), unit: 'GFLOP/s' },
        ratio: timing.ratio(`${name}.gate`, `${name}.fused`) * (STEP_FLOP / GATE_FLOP),
      },
      {
        section: SECTION,
        name: `fused step vs its own products alone: ${name}`,
        sizes: `${SIZES}; the step's ${sides[k]!.products} products (${(sides[k]!.replayFlop / 1e9).toFixed(2)} GFLOP) replayed on random operands`,
        a: { label: 'fused step', value: sides[k]!.replayFlop / ns('fused'), unit: 'GFLOP/s' },
        b: { label: 'its products alone', value: sides[k]!.replayFlop / ns('replay'), unit: 'GFLOP/s' },
        ratio: timing.ratio(`${name}.replay`, `${name}.fused`),
        note: 'the ratio is the share of the step spent in GEMM; the rest is element-wise work and copies',
      },
    );
  });
  const [first, second] = engines;
  if (first && second) {
    rows.push({
      section: SECTION,
      name: `fused path: ${first.name} engine vs ${second.name} engine (library)`,
      sizes: `${SIZES}; compute alone, no coordinator`,
      a: { label: first.name, value: tokensPerSecond(REFERENCE, timing.ns[`${first.name}.fused`]!), unit: 'tok/s' },
      b: { label: second.name, value: tokensPerSecond(REFERENCE, timing.ns[`${second.name}.fused`]!), unit: 'tok/s' },
      ratio: timing.ratio(`${second.name}.fused`, `${first.name}.fused`),
    });
  }
  for (const { name, unavailable } of probed) {
    if (unavailable) rows.push(skippedRow(SECTION, `fused path vs its engine's gate GEMM: ${name}`, SIZES, `skipped: ${unavailable}`));
  }
  return rows;
}
