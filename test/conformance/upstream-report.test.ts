/**
 * The pure parts of the report writer: report file names per run, and the README blocks each run
 * replaces or inserts without touching the other's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { GATEWAY_README_END, GATEWAY_README_START, isReportOf, reportFileName, upsertBlock } from './upstream-report.js';

test('report file names: upstream\'s layout for the mesh run, a -gateway- suffix for the gateway run, each run owning only its own', () => {
  const r = { gatewayAPIChannel: 'standard', mode: 'default' };
  assert.equal(reportFileName(r, 'v0.1.0-abc'), 'standard-v0.1.0-abc-default-report.yaml');
  assert.equal(reportFileName(r, 'v0.1.0-abc', 'gateway'), 'standard-v0.1.0-abc-default-gateway-report.yaml');
  assert.ok(isReportOf('standard-v0.1.0-abc-default-report.yaml', 'mesh'));
  assert.ok(!isReportOf('standard-v0.1.0-abc-default-report.yaml', 'gateway'));
  assert.ok(isReportOf('standard-v0.1.0-abc-default-gateway-report.yaml', 'gateway'));
  assert.ok(!isReportOf('standard-v0.1.0-abc-default-gateway-report.yaml', 'mesh'));
  assert.ok(!isReportOf('README.md', 'mesh') && !isReportOf('README.md', 'gateway'));
});

test('upsertBlock replaces its block, inserts it after the anchor or at the end, and refuses half a block', () => {
  const block = (x: string) => `${GATEWAY_README_START}\n${x}\n${GATEWAY_README_END}`;
  const anchor = '<!-- mesh:end -->';
  const text = `a\n${anchor}\nb\n`;
  const inserted = upsertBlock(text, GATEWAY_README_START, GATEWAY_README_END, block('one'), anchor);
  assert.equal(inserted, `a\n${anchor}\n${block('one')}\nb\n`);
  assert.equal(upsertBlock(inserted, GATEWAY_README_START, GATEWAY_README_END, block('two'), anchor), `a\n${anchor}\n${block('two')}\nb\n`);
  assert.equal(upsertBlock('a\n\n\n', GATEWAY_README_START, GATEWAY_README_END, block('one')), `a\n\n${block('one')}\n`);
  assert.throws(() => upsertBlock(`a\n${GATEWAY_README_START}\nb\n`, GATEWAY_README_START, GATEWAY_README_END, block('x')), /half a block/);
});
