import { Writable } from 'node:stream';
import { pino, type Level } from 'pino';
import type { Log, LogFields } from '@adamant/core';

export const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** Renders pino's JSON lines as `12:00:01 WARN  message key=value` for people. */
function prettyStream(prefix: string): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        try {
          const { level, time, msg, pid: _pid, hostname: _host, ...fields } = JSON.parse(line) as Record<string, unknown>;
          const name = pino.levels.labels[level as number] ?? String(level);
          const clock = new Date(time as number).toTimeString().slice(0, 8);
          const extra = Object.entries(fields)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          process.stderr.write(`${clock} ${prefix}${name.toUpperCase().padEnd(5)} ${String(msg)}${extra ? ` ${extra}` : ''}\n`);
        } catch {
          process.stderr.write(`${line}\n`);
        }
      }
      callback();
    },
  });
}

/**
 * The CLI's logger: pino writing to stderr, as JSON lines (`--log-json`, for log collectors)
 * or rendered for people. stdout stays free for results.
 */
export function createLog(level: LogLevel, json: boolean, prefix = ''): Log {
  const destination = json ? pino.destination({ fd: 2, sync: true }) : prettyStream(prefix);
  const logger = pino({ level: level === 'silent' ? 'silent' : (level as Level), base: json ? { pid: process.pid } : {} }, destination);
  const at =
    (lvl: Exclude<LogLevel, 'silent'>) =>
    (message: string, fields?: LogFields): void =>
      logger[lvl](fields ?? {}, message);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
