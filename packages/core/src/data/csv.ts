import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
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
  if (index < 0) {
    // A huge header (a binary file, one giant line) must not be repeated whole in the message.
    const shown = header.slice(0, 20).map((h) => (h.length > 40 ? `${h.slice(0, 37)}...` : h)).join(', ');
    throw new DataError(`${file}: no column "${name.slice(0, 60)}" (named in data.${field}); the header has ${shown}${header.length > 20 ? `, … (${header.length} columns)` : ''}`);
  }
  return index;
}

/** Data files larger than this are refused (the whole file is read into memory). */
export const MAX_DATA_FILE_BYTES = 4 * 1024 ** 3;
/** Lines longer than this are refused: no real table row or document line is this long. */
export const MAX_LINE_BYTES = 16 * 1024 ** 2;

/**
 * A data file's whole text; a DataError naming the file when it cannot be read. Only regular
 * files are read: a FIFO would hang and /dev/zero would grow without end. The size is taken
 * before reading, and reading stops there, so a file that grows while read cannot run away.
 */
export function readText(file: string): string {
  let fd: number;
  try {
    // Non-blocking, or opening a FIFO would wait for a writer; it is refused just below anyway.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(`${file}: cannot read data file: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new DataError(`${file}: not a regular file (${stat.isFIFO() ? 'a FIFO' : stat.isCharacterDevice() ? 'a device' : stat.isDirectory() ? 'a directory' : 'a special file'}); data must be a CSV or JSONL file`);
    if (stat.size > MAX_DATA_FILE_BYTES) throw new DataError(`${file}: ${stat.size} bytes is over the ${MAX_DATA_FILE_BYTES} bytes a data file may have`);
    const bytes = Buffer.allocUnsafe(stat.size);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break;
      read += n;
    }
    const text = bytes.subarray(0, read).toString('utf8');
    checkLineLengths(file, text);
    return text;
  } finally {
    closeSync(fd);
  }
}

/** Refuses a line beyond MAX_LINE_BYTES, naming its number (a binary file, or a file with no newlines). */
function checkLineLengths(file: string, text: string): void {
  let start = 0;
  for (let line = 1; start <= text.length; line++) {
    const end = text.indexOf('\n', start);
    const stop = end < 0 ? text.length : end;
    if (stop - start > MAX_LINE_BYTES) throw new DataError(`${file}:${line}: the line is over ${MAX_LINE_BYTES} characters; is this a CSV or JSONL file?`);
    if (end < 0) break;
    start = end + 1;
  }
}
