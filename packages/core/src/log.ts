/**
 * The logging interface the coordinator and worker write to. The CLI backs it with pino;
 * tests and embedders can pass `silentLog` or their own.
 */
export type LogFields = Record<string, unknown>;

export interface Log {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /**
   * Sets fields every later line carries, replacing earlier values of the same names: a worker
   * names itself by the id its coordinator's welcome gave it. Optional: a log may ignore them.
   */
  setBindings?(fields: LogFields): void;
}

const noop = (): void => {};
export const silentLog: Log = { debug: noop, info: noop, warn: noop, error: noop };
