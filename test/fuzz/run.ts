/**
 * The full fuzzing run: every property of properties.ts with its weighted share of `--runs` inputs
 * (default 1,000,000), a random seed unless WEFT_FUZZ_SEED or `--seed` gives one. Prints per
 * property runs and time, and with `--write` records the table in bench/README.md (section `fuzz`).
 * Exits 1 on the first failing property, with the seed and counterexample to replay it.
 *
 * Usage: node dist/test/fuzz/run.js [--runs 1000000] [--seed N] [--write]
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { REPO_ROOT } from '../support/paths.js';
import { writeReadmeSection } from '../support/fuzz-report.js';
import { FUZZ_SEED } from './config.js';
import { runsOf } from './plan.js';
import { KNOWN_BUGS, PROPERTIES } from './properties.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const total = Number(flag('runs') ?? 1_000_000);
const seed = flag('seed') !== undefined ? Number(flag('seed')) : FUZZ_SEED ?? (Math.random() * 2 ** 31) | 0;
console.log(`fuzzing ${total.toLocaleString('en')} inputs over ${PROPERTIES.length} properties, seed ${seed}`);

const rows: { name: string; runs: number; ms: number }[] = [];
const t0 = performance.now();
for (const p of PROPERTIES) {
  const numRuns = runsOf(p, PROPERTIES, total);
  const t = performance.now();
  const details = p.check({ numRuns, seed });
  const ms = performance.now() - t;
  if (details.failed) {
    console.error(`FAILED: ${p.name}\n${fc.defaultReportMessage(details) ?? ''}\n${String(details.errorInstance)}\n(seed ${seed})`);
    process.exit(1);
  }
  rows.push({ name: p.name, runs: details.numRuns, ms });
  console.log(`${details.numRuns.toLocaleString('en').padStart(9)} runs ${(ms / 1000).toFixed(1).padStart(6)} s  ${p.name}`);
}
const wall = performance.now() - t0;
const runs = rows.reduce((s, r) => s + r.runs, 0);
console.log(`all properties hold: ${runs.toLocaleString('en')} inputs in ${(wall / 1000).toFixed(1)} s (seed ${seed})`);

if (process.argv.includes('--write')) {
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const lines = [
    `Measured ${when} UTC, seed ${seed}, Node ${process.version}, ${cpus().length} cores shared with other jobs: **${runs.toLocaleString('en')} inputs in ${(wall / 1000).toFixed(0)} s, no failure**${KNOWN_BUGS.length === 0 ? '' : ` (${KNOWN_BUGS.length} known bug(s) excluded, see test/fuzz/properties.ts KNOWN_BUGS)`}.`,
    '',
    '| property | inputs | time (s) | inputs/s |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.runs.toLocaleString('en')} | ${(r.ms / 1000).toFixed(1)} | ${Math.round(r.runs / (r.ms / 1000)).toLocaleString('en')} |`),
  ];
  await writeReadmeSection(join(REPO_ROOT, 'bench', 'README.md'), 'fuzz', lines.join('\n'), '## fuzz: request pipeline properties');
  console.log('wrote bench/README.md (fuzz)');
}
