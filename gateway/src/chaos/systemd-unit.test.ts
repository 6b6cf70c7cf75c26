/**
 * A daemon stopped by a condition that clears by itself (a full disk, a network not up yet)
 * must come back when it clears: systemd's start limit would leave the box down for good
 * after about a minute of crash loop (StartLimitBurst=10 in 600 s did exactly that).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './harness.ts';

const unit = readFileSync(join(ROOT, 'deploy/kedge-gateway.service'), 'utf8');
const get = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1];

test('the systemd unit restarts the daemon forever, with a pause that grows, and no start limit', () => {
  assert.equal(get('Restart'), 'always');
  assert.equal(get('StartLimitIntervalSec'), '0', 'StartLimitIntervalSec=0 turns the start limit off');
  assert.equal(get('StartLimitBurst'), undefined, 'no burst limit left behind');
  assert.ok(Number(get('RestartSec')) >= 1, 'not a tight loop');
  assert.ok(Number(get('RestartSteps')) > 0 && Number(get('RestartMaxDelaySec')) >= 60, 'the pause grows (systemd >= 254)');
});
