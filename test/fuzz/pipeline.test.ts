/**
 * The unit-tier run of the request pipeline's properties (properties.ts): a few thousand inputs in
 * all, shared by weight, with a fixed seed so a failure reproduces; fast-check's failure message
 * carries the seed, the counterexample and the `path` to replay it. `npm run fuzz` runs the same
 * properties with 1,000,000 inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CI_SEED, FUZZ_RUNS, FUZZ_SEED } from './config.js';
import { FIXED_BUGS, KNOWN_BUGS, PROPERTIES } from './properties.js';
import { runsOf } from './plan.js';

const seed = FUZZ_SEED ?? CI_SEED;

for (const p of PROPERTIES) {
  test(p.name, () => {
    const numRuns = runsOf(p, PROPERTIES, FUZZ_RUNS);
    const details = p.check({ numRuns, seed });
    if (details.failed) {
      const cause = details.errorInstance instanceof Error ? details.errorInstance.stack ?? details.errorInstance.message : String(details.errorInstance);
      assert.fail(`${fc.defaultReportMessage(details) ?? 'property failed'}\n${cause}\n(seed ${seed}; rerun with WEFT_FUZZ_SEED=${seed})`);
    }
    assert.equal(details.numRuns, numRuns);
  });
}

for (const bug of KNOWN_BUGS) {
  test(`known bug ${bug.id} in ${bug.where}: ${bug.expected}`, { todo: `actual: ${bug.actual}` }, () => {
    bug.check();
  });
}

for (const bug of FIXED_BUGS) {
  test(`fixed bug ${bug.id} in ${bug.where}: ${bug.expected}`, () => {
    bug.check();
  });
}
