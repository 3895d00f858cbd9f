import { describe, expect, it } from 'vitest';
import { renderLine } from './logger.js';

const time = new Date(2026, 10, 26, 12, 0, 1).getTime();

describe('log lines for people', () => {
  it('start with the role, and for a worker with its id', () => {
    expect(renderLine(JSON.stringify({ level: 30, time, role: 'worker', worker: 2, msg: 'joined', backend: 'wasm' }))).toBe('12:00:01 worker 2 INFO  joined backend=wasm');
    expect(renderLine(JSON.stringify({ level: 40, time, role: 'coordinator', worker: 'vm:1 (127.0.0.1:5)', msg: 'worker left' }))).toBe(
      '12:00:01 coordinator WARN  worker left worker=vm:1 (127.0.0.1:5)',
    );
  });
});
