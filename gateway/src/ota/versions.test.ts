import assert from 'node:assert/strict';
import test from 'node:test';
import { compareVersions, semverSchema } from './manifest.ts';

test('versions are ordered by semver.org precedence (the downgrade guard relies on it)', () => {
  // The chain of semver.org section 11, plus numeric (not text) order of each part.
  const ordered = [
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
    '1.0.1',
    '1.2.0',
    '1.10.0',
    '2.0.0',
  ];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      assert.equal(compareVersions(ordered[i]!, ordered[j]!), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  }
});

test('build metadata does not change precedence', () => {
  assert.equal(compareVersions('1.4.2+build.7', '1.4.2'), 0);
  assert.equal(compareVersions('1.4.2+a', '1.4.2+b'), 0);
});

test('anything but a plain semantic version is refused, naming it', () => {
  for (const bad of ['v1.2.3', '1.2', '=1.2.3', '1.2.3-01', 'latest', ' 1.2.3']) {
    assert.throws(() => compareVersions(bad, '1.0.0'), new RegExp(`not a semantic version: ${bad.replace(/[.+=]/g, '\\$&')}$`));
    assert.throws(() => compareVersions('1.0.0', bad), /not a semantic version/);
  }
});

test('manifests and offers refuse at parse what the comparison would refuse later', () => {
  const issues = (v: string) => semverSchema.safeParse(v).error?.issues.map((i) => i.message) ?? [];
  assert.deepEqual(issues('1.4.2-rc.1'), []);
  assert.deepEqual(issues('1.2.3-01'), ['must be a semantic version such as 1.4.2 (no leading zeros in numeric parts)']);
  assert.deepEqual(issues('v1.2.3'), ['must be a semantic version such as 1.4.2']);
});
