import { isClassificationLoss } from '../config/names.js';
import type { LayerSpec } from '../config/schema.js';
import { ModelError } from '../errors.js';
import type { SavedModelMetadata } from '../model/metadata.js';
import type { AdamantExport, HeadKind, TablePreprocessing, TextPreprocessing } from './exportFormat.js';
import { EXPORT_VERSION, fromMetadata, PreprocessError } from './preprocess.js';

/** What the last layer's outputs mean: only a one-unit sigmoid is a probability of class 1, only a softmax a distribution. */
function headKindOf(last: LayerSpec | undefined, units: number): HeadKind {
  if (last?.type !== 'dense') return 'linear';
  if (last.activation === 'sigmoid' && units === 1) return 'sigmoid';
  if (last.activation === 'softmax') return 'softmax';
  return 'linear';
}

/** The class names of a classifier in class-index order (adamant.json's, else the config's), or null. */
function labelsOf(metadata: SavedModelMetadata, head: HeadKind): string[] | null {
  if (!isClassificationLoss(metadata.config.loss) || head === 'linear') return null;
  const labels = metadata.labels ?? metadata.config.data.labels?.map(String) ?? null;
  return labels && [...labels];
}

/**
 * The `adamant` block for model.json's userDefinedMetadata: how to read raw texts or rows the way
 * the training data was read, and what the outputs mean, so the model works without Adamant
 * (preprocess.ts reads it). `outputUnits` is the width of the model's output. Checked with that
 * same reader, so a model that saves also loads there; a ModelError names the field otherwise.
 */
export function exportMetadataOf(metadata: SavedModelMetadata, outputUnits: number): { adamant: AdamantExport } {
  const { config } = metadata;
  const kind = headKindOf(config.model.at(-1), outputUnits);
  const outputs = { labels: labelsOf(metadata, kind), head: { kind, units: outputUnits } };
  let preprocessing: TextPreprocessing | TablePreprocessing;
  if (config.data.type === 'text') {
    if (!metadata.tokenizer) throw new ModelError('model.json userDefinedMetadata: a text model needs its tokenizer, and the metadata has none');
    const { config: tokenizer, words } = metadata.tokenizer;
    const { maxLength, padding, truncating } = config.data;
    preprocessing = { type: 'text', tokenizer: { ...tokenizer, words: [...words] }, maxLength, padding, truncating, ...outputs };
  } else {
    const normalization = metadata.normalization && { mean: [...metadata.normalization.mean], std: [...metadata.normalization.std] };
    preprocessing = { type: 'table', features: [...metadata.featureNames], normalization, ...outputs };
  }
  const shape = [preprocessing.type === 'text' ? preprocessing.maxLength : preprocessing.features.length];
  const block: { adamant: AdamantExport } = { adamant: { version: EXPORT_VERSION, input: { shape, dtype: 'float32' }, preprocessing } };
  try {
    fromMetadata(block);
  } catch (err) {
    if (err instanceof PreprocessError) throw new ModelError(`model.json ${err.message}`, { cause: err });
    throw err;
  }
  return block;
}
