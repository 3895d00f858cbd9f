import * as tf from '@tensorflow/tfjs';
import { benchHotPaths } from './hotPaths.js';
import { benchHousing } from './housing.js';
import { benchLstm } from './lstm.js';
import { benchModels } from './models.js';

/**
 * `pnpm bench [section...]`: every figure is measured in this one run, side by side with its
 * baseline. Sections: hot, housing, lstm, models (default: all).
 */
const sections = { hot: benchHotPaths, housing: benchHousing, lstm: benchLstm, models: benchModels };
const asked = process.argv.slice(2).filter((a) => a in sections) as (keyof typeof sections)[];
tf.enableProdMode();
process.stdout.write(`Adamant benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
for (const name of asked.length ? asked : (Object.keys(sections) as (keyof typeof sections)[])) await sections[name]();
