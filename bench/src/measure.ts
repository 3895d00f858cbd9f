/** Median time per call in nanoseconds, over `rounds` rounds of at least `minMs` each (after one warm-up round). */
export async function nsPerCall(fn: () => unknown | Promise<unknown>, { rounds = 5, minMs = 200 } = {}): Promise<number> {
  const samples: number[] = [];
  for (let round = -1; round < rounds; round++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    do {
      await fn();
      calls++;
      elapsed = process.hrtime.bigint() - start;
    } while (elapsed < BigInt(minMs) * 1_000_000n);
    if (round >= 0) samples.push(Number(elapsed) / calls);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

export function row(name: string, value: string, note = ''): void {
  process.stdout.write(`  ${name.padEnd(52)} ${value.padStart(14)}  ${note}\n`);
}

export function heading(title: string): void {
  process.stdout.write(`\n${title}\n`);
}
