import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { BackendError, ShapeError } from '@adamant/core';
import { checkOperands, type ConstantMatrix, type GemmEngine, type SharedProduct } from './GemmEngine.js';

type Koffi = typeof import('koffi');

/** CBLAS's enum values (cblas.h): row-major storage, and whether an operand is transposed. */
const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

/** How users get the library, for the error and the fallback warning. */
export const OPENBLAS_INSTALL_HINT = 'install it with `apt-get install libopenblas0-pthread` (Debian, Ubuntu), `dnf install openblas` (Fedora) or `brew install openblas` (macOS)';

/** The variable that names the library file instead of the search below (tests point it at a missing file). */
export const OPENBLAS_LIB_ENV = 'ADAMANT_OPENBLAS_LIB';

/**
 * Where OpenBLAS is looked for: the file ADAMANT_OPENBLAS_LIB names, else its sonames through the
 * system loader's search path, and on macOS Homebrew's folders (its openblas is keg-only, off the
 * default path).
 */
export function openBlasCandidates(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env[OPENBLAS_LIB_ENV];
  if (override) return [override];
  if (platform === 'darwin') return ['libopenblas.dylib', '/opt/homebrew/opt/openblas/lib/libopenblas.dylib', '/usr/local/opt/openblas/lib/libopenblas.dylib'];
  if (platform === 'win32') return ['libopenblas.dll'];
  return ['libopenblas.so.0', 'libopenblas.so'];
}

/** The library's functions this engine calls. */
interface OpenBlasLibrary {
  sgemm: (...args: unknown[]) => void;
  /** "0.3.21 Haswell": the version and the CPU kernel OpenBLAS picked. */
  build: string;
}

/** Loaded once per thread (a worker thread has its own koffi instance). */
let loaded: { path: string; library: OpenBlasLibrary } | undefined;

/** The cause of a failed load, in one line. */
function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

function loadLibrary(): OpenBlasLibrary {
  const candidates = openBlasCandidates();
  const key = candidates.join('\n');
  if (loaded?.path === key) return loaded.library;
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err) {
    throw new BackendError(`OpenBLAS cannot be called: the FFI library koffi did not load (${reason(err)})`, { cause: err });
  }
  // OpenBLAS sizes its thread pool from this variable as it loads; one thread keeps its sums in a fixed order.
  // In a worker thread process.env is the thread's own copy: ComputeThread sets it in the main thread before.
  if (isMainThread) process.env.OPENBLAS_NUM_THREADS = '1';
  const failures: string[] = [];
  for (const file of candidates) {
    let lib: ReturnType<Koffi['load']>;
    try {
      lib = koffi.load(file);
    } catch (err) {
      failures.push(`${file}: ${reason(err)}`);
      continue;
    }
    try {
      const sgemm = lib.func(
        'void cblas_sgemm(int order, int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)',
      );
      lib.func('void openblas_set_num_threads(int count)')(1);
      const config = String(lib.func('const char *openblas_get_config()')());
      const core = String(lib.func('const char *openblas_get_corename()')());
      const version = /OpenBLAS (\S+)/.exec(config)?.[1] ?? 'unknown';
      const library = { sgemm, build: `${version} ${core}`.trim() };
      loaded = { path: key, library };
      return library;
    } catch (err) {
      throw new BackendError(`${file} is not a usable OpenBLAS (${reason(err)}); ${OPENBLAS_INSTALL_HINT}`, { cause: err });
    }
  }
  const where = process.env[OPENBLAS_LIB_ENV] ? ` at ${candidates[0]} (${OPENBLAS_LIB_ENV})` : ` (looked for ${candidates.join(', ')})`;
  throw new BackendError(`OpenBLAS was not found${where}; ${OPENBLAS_INSTALL_HINT}`, { cause: new Error(failures.join('; ')) });
}

/**
 * The `openblas` engine: the system's OpenBLAS `cblas_sgemm` called through koffi, on one thread,
 * with the transpose flags (no explicit transposes) and the typed arrays passed in place, without
 * copies. About 3x tfjs-wasm's matMul on one core, and bitwise the same run to run. Build it with
 * `OpenBlasGemm.load()`, which throws a BackendError naming what is missing and how to install it.
 */
export class OpenBlasGemm implements GemmEngine {
  readonly name = 'openblas';
  readonly build: string;

  private constructor(private readonly library: OpenBlasLibrary) {
    this.build = library.build;
  }

  static load(): OpenBlasGemm {
    return new OpenBlasGemm(loadLibrary());
  }

  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
    checkOperands(M, N, K, a, b, out);
    if (M * N === 0) return;
    if (K === 0) {
      out.fill(0, 0, M * N);
      return;
    }
    const lda = transA ? M : K;
    const ldb = transB ? K : N;
    this.library.sgemm(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, M, N, K, 1, a, lda, b, ldb, 0, out, N);
  }

  gemmShared(transA: boolean, N: number, K: number, b: Float32Array, products: readonly SharedProduct[]): void {
    for (const { M, a, out } of products) this.gemm(transA, false, M, N, K, a, b, out);
  }

  constantMatrix(rows: number, cols: number): ConstantMatrix {
    return new HostMatrix(this, rows, cols);
  }
}

/** A weight matrix in a Float32Array of its own, multiplied with the transpose flag. */
class HostMatrix implements ConstantMatrix {
  private readonly values: Float32Array;
  private filled = false;

  constructor(
    private readonly engine: GemmEngine,
    readonly rows: number,
    readonly cols: number,
  ) {
    this.values = new Float32Array(rows * cols);
  }

  set(values: Float32Array): void {
    if (values.length < this.values.length) throw new ShapeError(`a [${this.rows}x${this.cols}] weight matrix was given ${values.length} values`);
    this.values.set(values.subarray(0, this.values.length));
    this.filled = true;
  }

  multiply(a: Float32Array, M: number, transposed: boolean, out: Float32Array): Float32Array {
    if (!this.filled) throw new ShapeError(`a [${this.rows}x${this.cols}] weight matrix was used before its values were set`);
    if (transposed) this.engine.gemm(false, true, M, this.rows, this.cols, a, this.values, out);
    else this.engine.gemm(false, false, M, this.cols, this.rows, a, this.values, out);
    return out;
  }

  dispose(): void {
    this.filled = false;
  }
}
