/** A byte count as people read it: "512 B", "2.0 KiB", "1.5 GiB". */
export function formatSize(n: number): string {
  for (const [u, f] of [['PiB', 2 ** 50], ['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) if (n >= f) return `${(n / f).toFixed(1)} ${u}`;
  return `${n} B`;
}
