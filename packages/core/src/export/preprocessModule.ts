import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ModelError } from '../errors.js';

/** The preprocessing module's name in a saved model directory, beside model.json. */
export const PREPROCESS_JS = 'preprocess.js';

/**
 * Where the compiled module is: beside this file's own compiled form in dist/export/, or, when
 * this file runs from src/ (unit tests), in the package's dist/ that the build wrote.
 */
const CANDIDATES = [new URL('./preprocess.js', import.meta.url), new URL('../../dist/export/preprocess.js', import.meta.url)];

/** The compiled, import-free preprocessing module, as a page or Node can import it. */
export function preprocessModuleSource(): string {
  const file = CANDIDATES.map((url) => fileURLToPath(url)).find((f) => existsSync(f));
  if (!file) throw new ModelError(`${fileURLToPath(CANDIDATES[1]!)}: the compiled preprocessing module is missing; build @adamant/core first`);
  // Its source map stays behind, so the pointer to it goes too.
  return readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
}
