import { describe, expect, it } from 'vitest';
import { CLOSE_REASON_MAX_BYTES, closeReason, printable, utf8Prefix } from './printable.js';

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

describe('printable', () => {
  it('keeps ordinary text, accents and emoji as they are', () => {
    expect(printable('worker host-a:1234 (10.0.0.7:51234) — café 🚀')).toBe('worker host-a:1234 (10.0.0.7:51234) — café 🚀');
  });

  it('escapes newlines, ANSI escapes and other controls, so one string is one log line', () => {
    const forged = 'w\n12:00:00 INFO  worker joined\r\u001b[31mred\u0000\u007f\u0085';
    expect(printable(forged)).toBe('w\\x0a12:00:00 INFO  worker joined\\x0d\\x1b[31mred\\x00\\x7f\\x85');
  });

  it('escapes the invisible characters that break or reorder a line', () => {
    expect(printable('a\u2028b\u202ec\u2066d')).toBe('a\\u2028b\\u202ec\\u2066d');
  });

  it('cuts past `max` characters with an ellipsis, counting code points', () => {
    expect(printable('x'.repeat(300))).toBe(`${'x'.repeat(200)}…`);
    expect(printable('abcdef', 3)).toBe('abc…');
    expect(printable('abc', 3)).toBe('abc');
    expect(printable('🚀🚀🚀', 2)).toBe('🚀🚀…');
  });
});

describe('utf8Prefix and closeReason', () => {
  it('cut by bytes, never inside a character', () => {
    const euros = '€'.repeat(100); // 3 bytes each
    expect(utf8(euros)).toBe(300);
    const cut = utf8Prefix(euros, CLOSE_REASON_MAX_BYTES);
    expect(cut).toBe('€'.repeat(41));
    expect(utf8(cut)).toBe(123);
    expect(utf8Prefix('ab🚀', 5)).toBe('ab');
    expect(utf8Prefix('ab🚀', 6)).toBe('ab🚀');
    expect(utf8Prefix('é', 1)).toBe('');
  });

  it('makes a close reason ws accepts from any worker-chosen text', () => {
    for (const text of [`worker failed: ${'€'.repeat(100)}`, '🚀'.repeat(200), 'x'.repeat(1000), 'a\nb']) {
      const reason = closeReason(text);
      expect(utf8(reason)).toBeLessThanOrEqual(CLOSE_REASON_MAX_BYTES);
      expect(reason).not.toContain('\n');
      expect(reason).not.toMatch(/\uFFFD/);
    }
  });
});
