/** How a total run count is shared among properties: by weight, at least one run each. */
import type { NamedProperty } from './properties.js';

export function runsOf(p: NamedProperty, all: readonly NamedProperty[], total: number): number {
  const sum = all.reduce((s, x) => s + x.weight, 0);
  return Math.max(1, Math.round((total * p.weight) / sum));
}
