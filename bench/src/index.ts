import * as tf from '@tensorflow/tfjs';
import { benchHotPaths } from './hotPaths.js';
import { benchHousing } from './housing.js';
import { benchLstm } from './lstm.js';

/** `pnpm bench`: every figure is measured in this one run, side by side with its baseline. */
tf.enableProdMode();
process.stdout.write(`Adamant benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
await benchHotPaths();
await benchHousing();
if (!process.argv.includes('--quick')) await benchLstm();
