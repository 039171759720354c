import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, compileNetworks, networkSetContains, parseCidr, parseIp } from './cidr.js';

function cidr(text: string) {
  const r = parseCidr(text);
  assert.ok(r.ok, `expected ${text} to parse`);
  return r.cidr;
}
function ip(text: string) {
  const r = parseIp(text);
  assert.ok(r !== undefined, `expected ${text} to parse`);
  return r;
}

test('parseCidr canonicalises blocks and clears host bits', () => {
  const cases: [string, string][] = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['192.168.1.7', '192.168.1.7/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['fd00::/8', 'fd00::/8'],
    ['FD12:3456::1/16', 'fd12::/16'],
    ['2001:db8::1', '2001:db8::1/128'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['::/0', '::/0'],
    ['64:ff9b::10.0.0.1/128', '64:ff9b::a00:1/128'],
  ];
  for (const [input, expected] of cases) assert.equal(cidr(input).text, expected, input);
});

test('parseCidr rejects ambiguous or malformed text instead of guessing', () => {
  const bad = [
    '', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/08', '010.0.0.0/8', '10.0.0/8', '10.0.0.256/32',
    '10.0.0.0/8/8', 'fd00::/129', 'fd00:::1/64', '1:2:3:4:5:6:7:8:9/64', '1::2::3/64', 'gggg::/16',
    '::ffff:10.0.0.0/104', 'fe80::1%eth0/64', '10.0.0.0/ 8', 'not-a-cidr',
  ];
  for (const text of bad) assert.equal(parseCidr(text).ok, false, text);
});

test('parseIp folds IPv4-mapped IPv6 into IPv4 and drops a zone index', () => {
  assert.deepEqual(ip('::ffff:10.1.2.3'), ip('10.1.2.3'));
  assert.deepEqual(ip('::ffff:a01:203'), ip('10.1.2.3'));
  assert.deepEqual(ip('fe80::1%eth0'), ip('fe80::1'));
  assert.equal(parseIp('10.1.2'), undefined);
  assert.equal(parseIp('1.2.3.4.5'), undefined);
  assert.equal(parseIp(''), undefined);
});

test('cidrContains checks the prefix bits only and never mixes families', () => {
  const cases: [string, string, boolean][] = [
    ['10.0.0.0/8', '10.255.1.1', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['172.16.0.0/12', '172.31.255.255', true],
    ['172.16.0.0/12', '172.32.0.0', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['0.0.0.0/0', '2001:db8::1', false],
    ['::/0', '10.0.0.1', false],
    ['::/0', '2001:db8::1', true],
    ['fd00::/8', 'fd12:3456::1', true],
    ['fd00::/8', 'fe80::1', false],
    ['2001:db8::/33', '2001:db8:7fff::1', true],
    ['2001:db8::/33', '2001:db8:8000::1', false],
    ['2001:db8::1/128', '2001:db8::1', true],
    ['2001:db8::1/128', '2001:db8::2', false],
    ['10.0.0.0/8', '::ffff:10.9.9.9', true],
    ['192.168.1.1/32', '192.168.1.1', true],
    ['192.168.1.1/32', '192.168.1.2', false],
  ];
  for (const [block, addr, expected] of cases) {
    assert.equal(cidrContains(cidr(block), ip(addr)), expected, `${block} contains ${addr}`);
  }
});

test('a network set excludes its except blocks, per entry, for IPv4 and IPv6', () => {
  const r = compileNetworks([
    { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] },
    { cidr: 'fd00::/8', except: ['fd00:bad::/32'] },
    { cidr: '10.1.2.0/24' },
  ]);
  assert.ok(r.ok);
  const cases: [string, boolean][] = [
    ['10.2.0.1', true],
    ['10.1.0.1', false],
    ['10.1.2.5', true], // excluded by the first entry, included by the third
    ['fd00:1::1', true],
    ['fd00:bad::1', false],
    ['192.168.0.1', false],
  ];
  for (const [addr, expected] of cases) assert.equal(networkSetContains(r.networks, ip(addr)), expected, addr);
});

test('one unparsable CIDR or exception rejects the whole network set', () => {
  assert.equal(compileNetworks([{ cidr: '10.0.0.0/8' }, { cidr: '10.0.0.0/40' }]).ok, false);
  assert.equal(compileNetworks([{ cidr: '10.0.0.0/8', except: ['10.1.0.0/x'] }]).ok, false);
});
