/**
 * Text a peer sent us (a worker's name, an error message, a close reason) goes into our logs and
 * back onto the wire. Uncut and unescaped, it can forge log lines (a newline, then a fake
 * timestamp), rewrite the terminal (ANSI escapes), or grow the log without bound; these helpers
 * make it safe to print and to echo.
 */

/** Longest string `printable` keeps by default, in characters (code points). */
export const PRINTABLE_MAX = 200;

/** The longest close reason a WebSocket close frame carries (RFC 6455: 125 bytes less the code). */
export const CLOSE_REASON_MAX_BYTES = 123;

/**
 * Whether a code point must not reach a log or a terminal as it is: C0 controls, DEL, C1
 * controls, and the invisible characters that break or reorder a line on a terminal (line and
 * paragraph separators, bidirectional embeddings, overrides and isolates).
 */
function unprintable(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029 || (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069);
}

function escapeCodePoint(code: number): string {
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` as one line that prints as it reads: control and invisible formatting characters become
 * `\xNN` or `\uNNNN`, and the result is cut at `max` characters (code points, escapes counted as
 * written), ending in "…". A surrogate pair is never split. Backslashes stay as they are: the
 * escaping is for eyes, not reversible.
 */
export function printable(text: string, max = PRINTABLE_MAX): string {
  let out = '';
  let length = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const shown = unprintable(code) ? escapeCodePoint(code) : char;
    const size = shown === char ? 1 : shown.length;
    if (length + size > max) return `${out}…`;
    out += shown;
    length += size;
  }
  return out;
}

/**
 * The longest prefix of `text` whose UTF-8 encoding fits in `maxBytes`, cut between characters.
 * WebSocket close reasons are limited in bytes, and `ws` throws on a longer one.
 */
export function utf8Prefix(text: string, maxBytes: number): string {
  let bytes = 0;
  let out = '';
  for (const char of text) {
    const size = utf8Size(char.codePointAt(0)!);
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}

/** Bytes of one code point in UTF-8 (a lone surrogate is sent as the 3-byte replacement character). */
function utf8Size(code: number): number {
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

/** A close reason that `ws` accepts: printable, and cut to the frame's limit in bytes. */
export function closeReason(text: string): string {
  return utf8Prefix(printable(text, CLOSE_REASON_MAX_BYTES), CLOSE_REASON_MAX_BYTES);
}
