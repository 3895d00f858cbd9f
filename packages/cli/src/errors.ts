import { toAdamantError } from '@adamant/core';
import { failureLine } from './logger.js';
import { stderrArea } from './terminal.js';

/** Exit statuses of every command, documented in the README. */
export const ExitCode = {
  ok: 0,
  /** Training or a command failed; the one-line error says why. */
  failed: 1,
  /** The command line itself was wrong. */
  usage: 2,
  /** Stopped by SIGINT (Ctrl-C); a checkpoint was written. */
  interrupted: 130,
  /** Stopped by SIGTERM; a checkpoint was written. */
  terminated: 143,
} as const;

/** Prints a failure as one line on stderr (a JSON line with `--log-json`) and returns the exit status. */
export function reportError(err: unknown): number {
  const error = toAdamantError(err);
  stderrArea.clear();
  process.stderr.write(failureLine(error.message, error.code));
  if (error.code === 'E_INTERNAL' && process.env.ADAMANT_DEBUG) console.error(error.cause ?? error);
  return ExitCode.failed;
}
