/**
 * Every failure a user can act on is one of these classes. `code` is stable (documented in
 * docs/errors.md and safe to match on); `message` is one line that names the file, field or
 * peer at fault.
 */
export type ErrorCode =
  /** The job config is not valid JSON or breaks the schema. */
  | 'E_CONFIG'
  /** A data file is missing, unreadable, or has a bad row or column. */
  | 'E_DATA'
  /** Tensor shapes do not fit the model (wrong feature count, wrong weight sizes). */
  | 'E_SHAPE'
  /** A gradient or weight holds NaN or Infinity. */
  | 'E_NUMERIC'
  /** A frame could not be decoded, is too large, or breaks the message schema. */
  | 'E_PROTOCOL'
  /** The peer speaks another protocol version. */
  | 'E_VERSION'
  /** The peer presented a wrong or missing token. */
  | 'E_AUTH'
  /** A peer could not be reached or went away. */
  | 'E_CONNECT'
  /** A worker reached a coordinator that runs another job than the one it served. */
  | 'E_JOB'
  /** A checkpoint is missing, corrupt, or does not fit the job it would resume. */
  | 'E_CHECKPOINT'
  /** A saved model directory is missing, unreadable, or lacks Adamant's metadata. */
  | 'E_MODEL'
  /** A requested TensorFlow.js backend is not available. */
  | 'E_BACKEND'
  /** The address and port to listen on are taken by another process. */
  | 'E_ADDRINUSE'
  /** The system refused access: a port below 1024 without the privilege, a directory that cannot be written. */
  | 'E_ACCESS'
  /** Anything else: a bug in Adamant. */
  | 'E_INTERNAL';

export class AdamantError extends Error {
  override name = 'AdamantError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class ConfigError extends AdamantError {
  override name = 'ConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CONFIG', message, options);
  }
}

export class DataError extends AdamantError {
  override name = 'DataError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_DATA', message, options);
  }
}

export class ShapeError extends AdamantError {
  override name = 'ShapeError';
  constructor(message: string) {
    super('E_SHAPE', message);
  }
}

export class NumericError extends AdamantError {
  override name = 'NumericError';
  constructor(message: string) {
    super('E_NUMERIC', message);
  }
}

/**
 * An optimizer state (from a checkpoint) that does not fit the optimizer it is restored into:
 * another optimizer, or slots of other sizes. A ShapeError (E_SHAPE), named for what it checks.
 */
export class OptimizerStateError extends ShapeError {
  override name = 'OptimizerStateError';
}

export class ProtocolError extends AdamantError {
  override name = 'ProtocolError';
  constructor(message: string, code: 'E_PROTOCOL' | 'E_VERSION' | 'E_AUTH' | 'E_JOB' = 'E_PROTOCOL') {
    super(code, message);
  }
}

export class ConnectError extends AdamantError {
  override name = 'ConnectError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CONNECT', message, options);
  }
}

export class CheckpointError extends AdamantError {
  override name = 'CheckpointError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CHECKPOINT', message, options);
  }
}

export class ModelError extends AdamantError {
  override name = 'ModelError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_MODEL', message, options);
  }
}

export class BackendError extends AdamantError {
  override name = 'BackendError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_BACKEND', message, options);
  }
}

/** Listening failed because another process holds the address and port; the message says which and what to do. */
export class AddressInUseError extends AdamantError {
  override name = 'AddressInUseError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_ADDRINUSE', message, options);
  }
}

/** The system refused this process access: to a privileged port, or to a file or directory it must write. */
export class AccessError extends AdamantError {
  override name = 'AccessError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_ACCESS', message, options);
  }
}

/** Normalises anything thrown into an AdamantError, keeping the original as `cause`. */
export function toAdamantError(err: unknown): AdamantError {
  if (err instanceof AdamantError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AdamantError('E_INTERNAL', message.split('\n')[0] ?? message, { cause: err });
}
