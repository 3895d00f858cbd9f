import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { EpochEndEvent } from './trainingLoopOptions.js';
import { writeHistory } from './RunHistory.js';

/** The folder of a run directory that holds the best epoch's model. */
export const BEST_MODEL_DIR = 'best';

/** Saves the current weights as a model directory (Coordinator.save). */
export type SaveModel = (dir: string, summary: unknown) => Promise<void>;

/**
 * What a run keeps in its directory as it goes, after every epoch: history.csv and history.json
 * with every epoch so far, and, whenever the monitored value reaches a new best, that epoch's model
 * in `best/` (the same files as the final model, its summary naming the epoch and the value).
 */
export class RunFiles {
  constructor(
    readonly dir: string,
    private readonly save: SaveModel,
  ) {}

  async epochEnded(event: EpochEndEvent): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    writeHistory(this.dir, event.history);
    if (event.improved && event.best) await replaceDirectory(path.join(this.dir, BEST_MODEL_DIR), (temporary) => this.save(temporary, { best: event.best }));
  }
}

/**
 * Replaces directory `target` with what `write` puts into a fresh temporary one beside it: the
 * new one is complete before it takes the name, and the old one is moved aside first (a directory
 * cannot be renamed over a full one), then removed. A crash leaves `target` whole, old or new, or
 * (between the two renames) the old one beside it under `.old-<pid>`.
 */
export async function replaceDirectory(target: string, write: (temporary: string) => Promise<void>): Promise<void> {
  const temporary = `${target}.tmp-${process.pid}`;
  const old = `${target}.old-${process.pid}`;
  rmSync(temporary, { recursive: true, force: true });
  await write(temporary);
  rmSync(old, { recursive: true, force: true });
  try {
    renameSync(target, old);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  renameSync(temporary, target);
  rmSync(old, { recursive: true, force: true });
}
