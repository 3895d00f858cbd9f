import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.js';
import { exportMetadataOf } from '../export/exportMetadata.js';
import { PREPROCESS_JS, preprocessModuleSource } from '../export/preprocessModule.js';
import { type SavedModelMetadata, writeMetadata } from './metadata.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/**
 * Saves a model in the tfjs layers format (model.json + one weights file), loadable with
 * `tf.loadLayersModel`. The `file://` handler needs tfjs-node, so we write the artifacts ourselves.
 * With `metadata`, Adamant's sidecar adamant.json goes beside them (`writeMetadata`), and the
 * model works without Adamant too: model.json's userDefinedMetadata says how to prepare its input
 * (`exportMetadataOf`), and preprocess.js, the module that reads it, is copied in.
 */
export async function saveModel(model: tf.LayersModel, dir: string, metadata?: SavedModelMetadata): Promise<void> {
  // Built, checked and read before anything is written, so a refused export leaves no half-saved directory.
  const preprocessModule = metadata && preprocessModuleSource();
  if (metadata) model.setUserDefinedMetadata(exportMetadataOf(metadata, model.outputs[0]?.shape.at(-1) ?? 1));
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
      writeFileSync(path.join(dir, WEIGHTS_BIN), new Uint8Array(weights));
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: 'Adamant',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      writeFileSync(path.join(dir, MODEL_JSON), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  if (metadata) {
    writeMetadata(dir, metadata);
    writeFileSync(path.join(dir, PREPROCESS_JS), preprocessModule!);
  }
}

/** A tfjs IOHandler that reads a saved model directory from disk (what `file://` does under tfjs-node). */
export function fileLoadHandler(dir: string): tf.io.IOHandler {
  return {
    async load() {
      const jsonPath = path.join(dir, MODEL_JSON);
      let json: { modelTopology: unknown; weightsManifest: tf.io.WeightsManifestConfig; userDefinedMetadata?: tf.io.ModelArtifacts['userDefinedMetadata'] };
      try {
        json = JSON.parse(readFileSync(jsonPath, 'utf8'));
      } catch (err) {
        throw new ModelError(`${jsonPath}: cannot read a saved model: ${(err as Error).message.split('\n')[0]}`, { cause: err });
      }
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Uint8Array[] = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) buffers.push(readFileSync(path.join(dir, p)));
      }
      const total = buffers.reduce((n, b) => n + b.byteLength, 0);
      const weightData = new Uint8Array(total);
      let at = 0;
      for (const b of buffers) {
        weightData.set(b, at);
        at += b.byteLength;
      }
      return {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        weightSpecs: specs,
        weightData: weightData.buffer,
        ...(json.userDefinedMetadata ? { userDefinedMetadata: json.userDefinedMetadata } : {}),
      };
    },
  };
}

/** Loads a model saved by `saveModel` (or any tfjs layers model on disk). */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(fileLoadHandler(dir));
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw new ModelError(`${dir}: cannot load the model: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}
