import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainFailure } from './main.js';

test('a refused nat-table change names the capabilities proxy-init needs; other failures are left as they are', () => {
  const denied = 'iptables-restore --noflush exited 4: iptables-restore v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)';
  assert.match(explainFailure(denied), /^iptables-restore --noflush exited 4: .*Permission denied \(you must be root\) \(proxy-init needs the NET_ADMIN and NET_RAW capabilities/);
  assert.match(explainFailure('iptables -t nat -A OUTPUT: Operation not permitted'), /NET_ADMIN and NET_RAW/);
  assert.equal(explainFailure('iptables-restore: line 3 failed'), 'iptables-restore: line 3 failed');
});
