/**
 * The one helper of the components' flag tables: a flag's value wins over its environment variable.
 * Parsing is commander's (cli/components.ts, tested in cli/components.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flagOrEnv } from './flags.js';
import type { ExecutableSpec } from './flags.js';

const SPEC: ExecutableSpec = {
  command: 'weft demo',
  description: 'Runs the demo.',
  flags: [
    { name: 'webhook-port', value: 'port', env: 'WEFT_WEBHOOK_PORT', default: '8443', help: 'HTTPS webhook port' },
    { name: 'admin-port', value: 'port', env: 'WEFT_ADMIN_PORT', default: '9990', help: 'admin port' },
  ],
};

test('flagOrEnv: the flag wins, then a non-empty environment variable; each says where it came from', () => {
  const values = new Map([['admin-port', '7']]);
  const env = { WEFT_WEBHOOK_PORT: '1', WEFT_ADMIN_PORT: '2' };
  assert.deepEqual(flagOrEnv(SPEC, values, env, 'admin-port'), { value: '7', from: '--admin-port' });
  assert.deepEqual(flagOrEnv(SPEC, values, env, 'webhook-port'), { value: '1', from: 'WEFT_WEBHOOK_PORT' });
  assert.equal(flagOrEnv(SPEC, values, { WEFT_WEBHOOK_PORT: '' }, 'webhook-port'), undefined);
  assert.throws(() => flagOrEnv(SPEC, values, env, 'nope'), /weft demo has no flag --nope/);
});
