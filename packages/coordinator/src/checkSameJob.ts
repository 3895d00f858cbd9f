import { CheckpointError, firstMathematicalDifference, type Checkpoint, type JobConfig } from '@adamant/core';

/** Refuses a checkpoint of another job than `jobId`, naming the first field of the config's mathematics that differs, or else the data. */
export function checkSameJob(checkpoint: Checkpoint, jobId: string, config: JobConfig): void {
  if (checkpoint.jobId === jobId) return;
  const field = firstMathematicalDifference(checkpoint.config, config);
  throw new CheckpointError(
    field
      ? `cannot resume: the config's ${field} differs from the checkpoint's; a resumed job must keep its mathematics (model, loss, optimizer, batch and chunk size, seed, data)`
      : `cannot resume: the data in ${config.data.path} differs from the data the checkpoint was trained on`,
  );
}
