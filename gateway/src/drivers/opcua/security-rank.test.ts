import test from 'node:test';
import assert from 'node:assert/strict';
import { OPCUA_SECURITY_MODES } from './schema.ts';
import { securityRank, weakerSecurity } from './security-rank.ts';

test('security modes rank None < Sign < SignAndEncrypt, a missing mode counting as None', () => {
  assert.deepEqual(
    OPCUA_SECURITY_MODES.map((securityMode) => securityRank({ securityMode })),
    [0, 1, 2],
  );
  assert.equal(securityRank({}), securityRank({ securityMode: 'None' }), 'the schema default');
  assert.ok(securityRank({ securityMode: 'Plaintext' }) < securityRank({ securityMode: 'None' }), 'an unknown mode is never taken for a stronger one');
});

test('only a step down counts as weaker: the same mode or a stronger one does not', () => {
  for (const was of OPCUA_SECURITY_MODES) {
    for (const next of OPCUA_SECURITY_MODES) {
      const expected = OPCUA_SECURITY_MODES.indexOf(next) < OPCUA_SECURITY_MODES.indexOf(was);
      assert.equal(weakerSecurity({ securityMode: was }, { securityMode: next }), expected, `${was} -> ${next}`);
    }
  }
  assert.equal(weakerSecurity({ securityMode: 'Sign' }, {}), true, 'dropping the setting falls back to None');
  assert.equal(weakerSecurity({}, { securityMode: 'Sign' }), false);
});
