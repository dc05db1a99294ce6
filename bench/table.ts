export interface Row {
  name: string;
  value: number;
  unit: string;
  baselineName?: string;
  baseline?: number;
  /** For ratios: value / baseline must meet this, e.g. "≥ 0.70"; otherwise a plain target for the value. */
  target?: string;
  lowerIsBetter?: boolean;
  note?: string;
}

export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median of `runs` measurements: these machines are noisy, one run says little. */
export async function measure(f: () => Promise<number> | number, runs = 5): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) xs.push(await f());
  return median(xs);
}

export function rate(count: number, f: () => unknown): number {
  const t = performance.now();
  for (let i = 0; i < count; i++) f();
  return count / ((performance.now() - t) / 1000);
}

const fmt = (v: number, unit: string) =>
  unit === 'ms' ? `${v.toFixed(2)} ms` : unit === 'B' ? `${Math.round(v)} B` : unit === ' KiB' || unit === ' MiB' ? `${v.toFixed(1)}${unit}` : `${Math.round(v).toLocaleString('en')}${unit}`;

export function printTable(title: string, rows: Row[]): string {
  const lines = [`## ${title}`, '', '| scenario | median | baseline (same run) | ratio | target |', '|---|---|---|---|---|'];
  for (const r of rows) {
    const base = r.baseline !== undefined ? `${r.baselineName}: ${fmt(r.baseline, r.unit)}` : (r.note ?? '');
    const ratio = r.baseline !== undefined ? (r.value / r.baseline).toFixed(2) : '';
    lines.push(`| ${r.name} | ${fmt(r.value, r.unit)} | ${base} | ${ratio} | ${r.target ?? ''} |`);
  }
  return lines.join('\n');
}
