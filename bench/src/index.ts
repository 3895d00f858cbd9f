import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { root } from './cliRuns.js';
import { benchHotPaths } from './hotPaths.js';
import { benchHousing } from './housing.js';
import { benchLstm } from './lstm.js';
import { progress } from './measure.js';
import { benchModels } from './models.js';
import { type BenchRow, machineInfo, markdownTable, skippedRow, writeResults } from './results.js';
import { benchWire } from './wire.js';
import { benchWorkers } from './workers.js';

/**
 * `pnpm bench [section...]`: every row is a ratio of two things measured side by side in this one
 * run (interleaved, medians). Prints one markdown table on stdout (progress on stderr) and writes
 * it as bench/results.json. Sections: lstm, workers, hot, wire, housing, models (default: all).
 */
const sections: Record<string, () => Promise<BenchRow[]>> = {
  lstm: benchLstm,
  workers: benchWorkers,
  hot: benchHotPaths,
  wire: benchWire,
  housing: benchHousing,
  models: benchModels,
};
const args = process.argv.slice(2);
const unknown = args.filter((a) => !(a in sections));
if (unknown.length) {
  process.stderr.write(`bench: unknown section ${unknown.join(', ')}; sections: ${Object.keys(sections).join(', ')}\n`);
  process.exit(2);
}
const chosen = args.length ? args : Object.keys(sections);
tf.enableProdMode();
// Models are built before each section picks its backends: wasm is the one a worker runs.
await tf.setBackend('wasm');
const started = new Date();
const machine = machineInfo();
progress(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load ${machine.loadStart}`);
const rows: BenchRow[] = [];
const sectionSeconds: Record<string, number> = {};
for (const name of chosen) {
  const sectionStart = performance.now();
  try {
    rows.push(...(await sections[name]!()));
  } catch (err) {
    // One failing section (a run that did not finish, say) costs its rows, not the whole table.
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
    progress(`${name} failed: ${err instanceof Error ? err.stack : message}`);
    rows.push(skippedRow(name, 'the whole section', '', `failed: ${message}`));
    process.exitCode = 1;
  }
  sectionSeconds[name] = Math.round((performance.now() - sectionStart) / 1000);
}
const table = markdownTable(rows);
process.stdout.write(`Adamant benchmarks, ${started.toISOString()}: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}\n\n${table}`);
const file = path.join(root, 'bench/results.json');
writeResults(file, machine, started, sectionSeconds, rows);
progress(`wrote ${path.relative(root, file)} in ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s`);
