import { Writable } from 'node:stream';
import { pino, type Level } from 'pino';
import type { Log, LogFields } from '@adamant/core';
import { stderrArea } from './terminal.js';

export const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** Which process a line comes from: every line names it, and a worker also its id (`worker: N`, from its coordinator's welcome). */
export type LogRole = 'coordinator' | 'worker' | 'cli';

/** pino's number for info: lines written whatever the level (`announce`) carry it. */
const INFO = 30;

/**
 * The CLI's log: the `Log` the packages write to, plus what only the CLI does with it.
 */
export interface CliLog extends Log {
  /** JSON lines (`--log-json`) rather than text for people. */
  readonly json: boolean;
  setBindings(fields: LogFields): void;
  /**
   * Writes whatever the level (the coordinator's banner, the epoch records of `--json --log-json`):
   * `text` as it is for people, or one JSON line with `message` and `fields`.
   */
  announce(message: string, fields: LogFields, text: string): void;
  /** The fields every line carries: the role, and a worker's id once it has one. */
  readonly bindings: Readonly<LogFields>;
}

/** Renders a JSON line for people: `12:00:01 worker 2 WARN  message key=value`. */
export function renderLine(line: string): string {
  const { level, time, msg, pid: _pid, hostname: _host, role, ...fields } = JSON.parse(line) as Record<string, unknown>;
  const name = pino.levels.labels[level as number] ?? String(level);
  const clock = new Date(time as number).toTimeString().slice(0, 8);
  // A worker's own id is its name; on the coordinator, `worker` names the peer a line is about.
  let who = role === undefined ? '' : `${String(role)} `;
  if (role === 'worker' && fields.worker !== undefined) {
    who = `worker ${String(fields.worker)} `;
    delete fields.worker;
  }
  const extra = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${clock} ${who}${name.toUpperCase().padEnd(5)} ${String(msg)}${extra ? ` ${extra}` : ''}`;
}

/** pino's JSON lines rendered for people, written above the progress bar when one is drawn. */
function prettyStream(): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      let text = '';
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        try {
          text += `${renderLine(line)}\n`;
        } catch {
          text += `${line}\n`;
        }
      }
      stderrArea.print(process.stderr, text);
      callback();
    },
  });
}

let processLog: CliLog | undefined;

/** The log this process's command made, if any: its last error line is written in the same form. */
export function currentLog(): CliLog | undefined {
  return processLog;
}

/**
 * The CLI's logger: pino writing to stderr, as JSON lines (`--log-json`, for log collectors) or
 * rendered for people. stdout stays free for results. Every line names its `role`.
 */
export function createLog(level: LogLevel, json: boolean, role: LogRole): CliLog {
  const bindings: LogFields = { role };
  const destination = json ? pino.destination({ fd: 2, sync: true }) : prettyStream();
  // The mixin, not pino's own bindings: a worker's id changes when it rejoins, and pino's setBindings would repeat the key.
  const logger = pino({ level: level === 'silent' ? 'silent' : (level as Level), base: json ? { pid: process.pid } : {}, mixin: () => ({ ...bindings }) }, destination);
  const at =
    (lvl: Exclude<LogLevel, 'silent'>) =>
    (message: string, fields?: LogFields): void =>
      logger[lvl](fields ?? {}, message);
  const log: CliLog = {
    json,
    bindings,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    setBindings: (fields) => Object.assign(bindings, fields),
    announce(message, fields, text) {
      if (json) process.stderr.write(`${JSON.stringify({ level: INFO, time: Date.now(), pid: process.pid, ...bindings, ...fields, msg: message })}\n`);
      else stderrArea.print(process.stderr, text.endsWith('\n') ? text : `${text}\n`);
    },
  };
  processLog = log;
  return log;
}

/**
 * A command's failure as one line: `adamant: <message> [E_CODE]`, or with `--log-json` a JSON
 * line at level error with the code and `fatal: true` (what `adamant train` reads from its workers).
 */
export function failureLine(message: string, code: string): string {
  const log = processLog;
  if (!log?.json) return `adamant: ${message} [${code}]\n`;
  return `${JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, ...log.bindings, code, fatal: true, msg: message })}\n`;
}
