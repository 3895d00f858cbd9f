import { expect } from 'vitest';
import type { AdamantError, ErrorCode } from './errors.js';

/**
 * Test helper: calls `fn`, expects it to throw an instance of `type` with `code` and a one-line
 * message, and returns the error.
 */
export function thrown<E extends AdamantError>(fn: () => unknown, type: abstract new (...args: never[]) => E, code: ErrorCode): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    const error = err as E;
    expect(error.code).toBe(code);
    expect(error.message).not.toContain('\n');
    return error;
  }
  throw new Error(`expected a ${type.name}, but nothing was thrown`);
}
