import { readFileSync } from 'node:fs';
import { DataError } from '../errors.js';

// What reading a table and reading a text CSV share: the file, its header, and errors worded alike.

/**
 * A csv-parse failure as a DataError. csv-parse says "Invalid Record Length: expect 3, got 2 on
 * line 3"; we say "file:3: Invalid Record Length: expect 3, got 2", like every other data error.
 */
export function csvParseError(file: string, err: unknown): DataError {
  const { lines } = err as { lines?: number };
  const message = (err as Error).message.split('\n')[0]!.replace(/ (on|at) line \d+$/, '');
  return new DataError(`${file}${lines ? `:${lines}` : ''}: ${message}`, { cause: err });
}

/** The header row of a CSV, which must be there. */
export function headerOf(file: string, firstRecord: string[] | undefined): string[] {
  if (!firstRecord) throw new DataError(`${file}: the file is empty; expected a header row`);
  return firstRecord;
}

/** Where column `name` (named in config field data.`field`) sits in a CSV header. */
export function columnIndex(file: string, header: readonly string[], name: string, field: string): number {
  const index = header.indexOf(name);
  if (index < 0) throw new DataError(`${file}: no column "${name}" (named in data.${field}); the header has ${header.join(', ')}`);
  return index;
}

/** A data file's whole text; a DataError naming the file when it cannot be read. */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(`${file}: cannot read data file: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
}
