import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { type BackendName, RESOLVED_BACKEND_NAMES, type ResolvedBackend } from '../config/names.js';
import { BackendError } from '../errors.js';

export interface BackendOptions {
  /** Whether the model trains an Embedding: the wasm backend lacks the kernel for its gradient. */
  needsSegmentSum?: boolean;
}

/**
 * Loads @tensorflow/tfjs-node if the user installed it beside Adamant. It is never a dependency
 * of Adamant: its install script downloads libtensorflow, which fails without internet. It is
 * resolved from Adamant's own installation only, never from the current directory: a
 * node_modules planted where a worker happens to run must not get its code executed.
 */
async function loadTensorflowBackend(): Promise<boolean> {
  if (tf.findBackend('tensorflow')) return true;
  try {
    createRequire(import.meta.url)('@tensorflow/tfjs-node');
    return tf.findBackend('tensorflow') !== null;
  } catch {
    // Not installed, or its native library is missing.
    return false;
  }
}

async function trySetBackend(name: ResolvedBackend): Promise<boolean> {
  if (name === 'tensorflow' && !(await loadTensorflowBackend())) return false;
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * Selects the TensorFlow.js backend. `auto` takes the fastest one available:
 * `tensorflow` (native, when installed), then `wasm`, then `cpu`.
 */
export async function useBackend(requested: BackendName, options: BackendOptions = {}): Promise<ResolvedBackend> {
  // Production mode drops tfjs's debug checks and its console banner about tfjs-node.
  tf.enableProdMode();
  if (requested !== 'auto') {
    if (requested === 'wasm' && options.needsSegmentSum) {
      throw new BackendError('backend "wasm" cannot train an embedding layer (it has no UnsortedSegmentSum kernel); use "cpu" or "auto"');
    }
    if (!(await trySetBackend(requested))) {
      const hint = requested === 'tensorflow' ? ' (install @tensorflow/tfjs-node beside Adamant to use it)' : '';
      throw new BackendError(`backend "${requested}" is not available${hint}`);
    }
    return requested;
  }
  // RESOLVED_BACKEND_NAMES is fastest first: tensorflow, wasm, cpu.
  const order = RESOLVED_BACKEND_NAMES.filter((name) => !(options.needsSegmentSum && name === 'wasm'));
  for (const name of order) if (await trySetBackend(name)) return name;
  throw new BackendError('no TensorFlow.js backend could be initialised');
}
