#!/usr/bin/env node
import { CommanderError } from 'commander';
import { ExitCode, reportError } from './errors.js';
import { createProgram } from './program.js';

try {
  await createProgram().parseAsync(process.argv);
  // A command may have set its own status (a run stopped by a signal: 130 or 143).
  process.exitCode ??= ExitCode.ok;
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; usage errors were already printed by commander.
    process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else {
    process.exitCode = reportError(err);
  }
}
