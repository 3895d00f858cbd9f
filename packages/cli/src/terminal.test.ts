import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { fitWidth, LiveArea, SHOW_CURSOR } from './terminal.js';

function fakeTerminal(columns = 40): { stream: NodeJS.WriteStream; written: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { columns });
  return { stream, written: () => text };
}

describe('the live area', () => {
  it('redraws its lines in place, prints other lines above them, and shows the cursor when cleared', () => {
    const { stream, written } = fakeTerminal();
    const area = new LiveArea(stream);
    area.draw(['bar 1', 'workers']);
    area.draw(['bar 2', 'workers']);
    area.print(stream, 'a log line\n');
    area.clear();
    expect(written()).toBe(
      '\x1b[?25lbar 1\nworkers' +
        '\r\x1b[2K\x1b[1A\x1b[2Kbar 2\nworkers' +
        '\r\x1b[2K\x1b[1A\x1b[2Ka log line\nbar 2\nworkers' +
        `\r\x1b[2K\x1b[1A\x1b[2K${SHOW_CURSOR}`,
    );
    expect(area.active).toBe(false);
  });

  it('cuts lines to the terminal width so that none wraps', () => {
    expect(fitWidth('x'.repeat(50), 39)).toBe(`${'x'.repeat(38)}…`);
    const { stream, written } = fakeTerminal(30);
    new LiveArea(stream).draw(['y'.repeat(40)]);
    expect(written()).toBe(`\x1b[?25l${'y'.repeat(28)}…`);
  });
});
