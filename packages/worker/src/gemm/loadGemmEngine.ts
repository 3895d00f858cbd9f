import { BackendError, GEMM_ENGINE_NAMES, type GemmChoice, type GemmEngineName } from '@adamant/core';
import type { GemmEngine } from './GemmEngine.js';
import { OpenBlasGemm } from './OpenBlasGemm.js';
import { WasmGemm } from './WasmGemm.js';

export interface LoadGemmOptions {
  /** `auto` only: called once, with the line to log, when OpenBLAS does not load and wasm is used instead. */
  onFallback?: (message: string) => void;
}

/**
 * The GEMM engine for a fused path: `openblas` (a BackendError naming what is missing and how to
 * install it when it does not load), `wasm`, or `auto`, the fastest that loads (openblas, else
 * wasm, said once through `onFallback`). Synchronous: loading OpenBLAS is one dlopen.
 */
export function loadGemmEngine(choice: GemmChoice = 'auto', options: LoadGemmOptions = {}): GemmEngine {
  if (choice === 'wasm') return new WasmGemm();
  try {
    return OpenBlasGemm.load();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (choice === 'openblas') throw new BackendError(`--gemm openblas: ${message}, or use --gemm wasm`, { cause: err });
    options.onFallback?.(`--gemm auto: ${message}; until then the fused path runs on the slower wasm GEMM engine`);
    return new WasmGemm();
  }
}

/** An engine's name with its build, as a worker's identity shows it: "openblas 0.3.21 Haswell", "wasm". */
export function describeEngine(engine: Pick<GemmEngine, 'name' | 'build'>): string {
  return engine.build ? `${engine.name} ${engine.build}` : engine.name;
}

/** Every engine, loaded where it can be, else with the one-line reason it cannot (tests and benchmarks run on each). */
export function probeGemmEngines(): { name: GemmEngineName; engine?: GemmEngine; unavailable?: string }[] {
  return GEMM_ENGINE_NAMES.map((name) => {
    try {
      return { name, engine: loadGemmEngine(name) };
    } catch (err) {
      return { name, unavailable: err instanceof Error ? err.message : String(err) };
    }
  });
}
