/** Median of the times `op` takes, run `n` times one after another. */
export async function medianMs(n: number, op: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Resident memory of a process, from /proc (Linux), in bytes. */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/**
 * The most a well-behaved client's median may reach while an attack runs: twice its normal median, with a
 * floor of 25 ms above it, since a median of a few milliseconds on a shared 2-core machine moves by more than
 * that with whatever else runs (other test files included).
 */
export const allowedUnderAttack = (baselineMs: number): number => Math.max(2 * baselineMs, baselineMs + 25);
