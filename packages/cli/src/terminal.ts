const HIDE_CURSOR = '\x1b[?25l';
export const SHOW_CURSOR = '\x1b[?25h';
const CLEAR_LINE = '\r\x1b[2K';
const UP_AND_CLEAR = '\x1b[1A\x1b[2K';

/** Cuts a line to `width` characters, so that it never wraps (a wrapped line breaks the cursor-up redraw). */
export function fitWidth(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * The bottom lines of a terminal, redrawn in place (the progress bar and the worker line), with
 * everything else printed above them. While lines are drawn the cursor is hidden; `clear()` shows
 * it again, and so does the process's exit, whatever the path (an error, a second Ctrl-C).
 */
export class LiveArea {
  private lines: string[] = [];
  private drawn = 0;
  private cursorHidden = false;
  private readonly restoreOnExit = () => {
    if (this.cursorHidden) this.stream.write(SHOW_CURSOR);
  };

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get active(): boolean {
    return this.drawn > 0;
  }

  /** Replaces the drawn lines with `lines`. */
  draw(lines: string[]): void {
    this.lines = lines;
    let out = this.erasure();
    if (!this.cursorHidden) {
      this.cursorHidden = true;
      process.once('exit', this.restoreOnExit);
      out += HIDE_CURSOR;
    }
    this.stream.write(out + this.rendered());
  }

  /** Writes whole lines to `target` above the drawn lines, then draws them again below. */
  print(target: NodeJS.WritableStream, text: string): void {
    if (this.drawn === 0) {
      target.write(text);
      return;
    }
    this.stream.write(this.erasure());
    target.write(text);
    this.stream.write(this.rendered());
  }

  /** Removes the drawn lines and shows the cursor. */
  clear(): void {
    let out = this.erasure();
    this.lines = [];
    if (this.cursorHidden) {
      this.cursorHidden = false;
      process.off('exit', this.restoreOnExit);
      out += SHOW_CURSOR;
    }
    if (out) this.stream.write(out);
  }

  /** The escapes that erase what is drawn, leaving the cursor at the start of the first line. */
  private erasure(): string {
    if (this.drawn === 0) return '';
    const out = CLEAR_LINE + UP_AND_CLEAR.repeat(this.drawn - 1);
    this.drawn = 0;
    return out;
  }

  private rendered(): string {
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    this.drawn = this.lines.length;
    return this.lines.map((line) => fitWidth(line, width)).join('\n');
  }
}

/** The live area of this process's stderr, shared by the progress display and the log so that lines land above the bar. */
export const stderrArea = new LiveArea(process.stderr);
