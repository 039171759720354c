import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../core/duration.js';
import { parseCheckArgs } from './check/command.js';
import { parseObserveArgs } from './observe/command.js';

test('one Go-style duration grammar: units ms, s, m, h, combined and decimal', () => {
  const ms = (t: string) => { const d = parseDuration(t); assert.ok(d.ok, t); return d.ms; };
  assert.equal(ms('90s'), 90_000);
  assert.equal(ms('1m30s'), 90_000);
  assert.equal(ms('1h30m'), 5_400_000);
  assert.equal(ms('500ms'), 500);
  assert.equal(ms('1.5h'), 5_400_000);
  assert.equal(ms('0s'), 0);
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(500), '500ms');
});

test('a bare number, an unknown unit or junk is rejected with the reason', () => {
  for (const [text, why] of [['90', /needs a unit.*90s/], ['0', /needs a unit/], ['', /empty/], ['1d', /unexpected "1d"/], ['1h30', /unexpected "30"/], ['-1s', /unexpected/], ['soon', /unexpected/]] as const) {
    const d = parseDuration(text);
    assert.ok(!d.ok, text);
    assert.match(d.why, why, text);
  }
});

test('--wait and --window take the same grammar: 1h30m and 90s in both, bare 90 in neither', () => {
  const wait = (t: string) => parseCheckArgs(['--wait', t]);
  const window = (t: string) => parseObserveArgs('stat', ['deploy', '--window', t]);
  for (const t of ['1h30m', '90s', '500ms']) {
    const w = wait(t);
    assert.ok(w.ok, t);
    const o = window(t);
    assert.ok(o.ok, t);
    assert.equal(w.waitMs / 1000, o.args.windowSeconds);
  }
  for (const t of ['90', '1x']) {
    const w = wait(t);
    const o = window(t);
    assert.ok(!w.ok && /option '--wait <duration>' argument/.test(w.text), t);
    assert.ok(!o.ok && /option '--window <duration>' argument/.test(o.text), t);
  }
});
