import test, { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GROUP_GRACE_MS, startProcess, type ProcessExit } from './proc.ts';
import { tsEntry } from './entry.ts';
import { tempDir } from './temp-dirs.ts';
import { waitFor } from './wait.ts';

const FIXTURE = join(import.meta.dirname, 'leaves-children.fixture.ts');
/** Loading the fixture through the TypeScript loader and starting two children, on a loaded box. */
const FIXTURE_TIMEOUT_MS = 60_000;

test('exitedWithin: a process that does not exit in time is SIGKILLed and the error names the step and carries its output', async () => {
  const p = await startProcess(process.execPath, ['-e', "console.log('still serving'); setInterval(() => {}, 1000)"], { name: 'hanging fixture', readyLine: /still serving/ });
  // Never exits by itself: the bound is what ends it, however loaded the machine is.
  await assert.rejects(p.exitedWithin(100, 'the power-loss step'), (err: Error) => {
    assert.match(err.message, /hanging fixture: still running 100 ms into the power-loss step, killed \(SIGKILL\)/);
    assert.match(err.message, /still serving/);
    return true;
  });
  assert.deepEqual(await p.exited, { code: null, signal: 'SIGKILL' });
});

test('exitedWithin: a process that exits in time resolves with its exit', async () => {
  const p = await startProcess(process.execPath, ['-e', 'process.exit(3)'], { name: 'quick fixture' });
  assert.deepEqual(await p.exitedWithin(60_000, 'a quick exit'), { code: 3, signal: null });
});

/** Running, and not a zombie waiting for a parent that does not reap (a container's init may not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The fixture's children: every one must be gone once the fixture's process is. */
interface Left {
  writer: number;
  launcher: number;
  grandchild: number;
  dir: string;
}

async function runFixture(t: test.TestContext, mode: 'end' | 'hang'): Promise<{ left: Left; exit: ProcessExit }> {
  const dir = tempDir(t, 'kedge-proc-test-');
  const report = join(dir, 'left.json');
  const fixture = await startProcess(process.execPath, [...tsEntry(FIXTURE), report, mode], { name: `fixture (${mode})` });
  t.after(() => fixture.stop());
  const left = await waitFor(() => (existsSync(report) ? (JSON.parse(readFileSync(report, 'utf8')) as Left) : undefined), {
    timeoutMs: FIXTURE_TIMEOUT_MS,
    what: "the fixture's children to start",
  }).catch((err: Error) => {
    throw new Error(`${err.message}; fixture output:\n${fixture.output()}`);
  });
  // As the runner's per-file limit ends a file that does not finish.
  if (mode === 'hang') fixture.kill('SIGTERM');
  const exit = await fixture.exitedWithin(FIXTURE_TIMEOUT_MS, 'the end of its tests');
  return { left, exit };
}

for (const mode of ['end', 'hang'] as const) {
  const how = mode === 'end' ? 'a test file that ends' : 'a test file ended by SIGTERM';
  test(`${how} without stopping its children leaves none running: not the child, not a grandchild in its group, and no folder they wrote`, async (t) => {
    const { left, exit } = await runFixture(t, mode);
    // A signal ends the fixture without its 'exit' event, which removes its folders.
    if (mode === 'hang') t.after(() => rmSync(left.dir, { recursive: true, force: true }));
    assert.deepEqual(exit, mode === 'end' ? { code: 0, signal: null } : { code: null, signal: 'SIGTERM' });
    // The kills are sent before the fixture's process ends, their delivery is the kernel's.
    const pids = { writer: left.writer, launcher: left.launcher, 'grandchild in the launcher group': left.grandchild };
    await waitFor(() => Object.values(pids).every((pid) => !alive(pid)), { timeoutMs: FIXTURE_TIMEOUT_MS, what: "the fixture's children to be gone" }).catch((err: Error) => {
      const running = Object.entries(pids).filter(([, pid]) => alive(pid));
      throw new Error(`${err.message}; still running: ${running.map(([name, pid]) => `${name} ${pid}`).join(', ')}`);
    });
    if (mode === 'end') assert.equal(existsSync(left.dir), false, 'the folder the writer wrote to is removed after the writer is killed');
  });
}

/** How a group's leader ends while a member it started still runs. */
const LEADER_ENDS = {
  'exits by itself': { script: 'sleep 600 & echo "grandchild $!"', end: async () => {}, exit: { code: 0, signal: null } },
  'is SIGKILLed alone': { script: 'sleep 600 & echo "grandchild $!"; wait', end: async (p: { kill(s: NodeJS.Signals): void }) => p.kill('SIGKILL'), exit: { code: null, signal: 'SIGKILL' } },
} as const;

// Side by side: each waits out the whole grace (GROUP_GRACE_MS) for a member that never ends.
describe('a group whose leader ends while a member it started runs on', { concurrency: true }, () => {
  for (const [how, leader] of Object.entries(LEADER_ENDS)) {
    it(`a leader that ${how}: the member is reported left running and killed with its group; no orphan runs on until the end of the file`, async (t) => {
      const p = await startProcess('/bin/sh', ['-c', leader.script], { name: `launcher that ${how}`, group: true });
      t.after(() => p.stop());
      const seen = await waitFor(() => /grandchild (\d+)/.exec(p.output()), { timeoutMs: FIXTURE_TIMEOUT_MS, what: 'the launcher to start its child' });
      const grandchild = Number(seen[1]);
      await leader.end(p);
      assert.deepEqual(await p.exitedWithin(FIXTURE_TIMEOUT_MS, 'the end of the launcher'), leader.exit);
      const members = await p.membersAtLeaderExit();
      assert.deepEqual(members.map((m) => m.pid), [grandchild], 'the grandchild was running when the launcher ended');
      // 'sh' if the launcher ended between the grandchild's fork and its exec of sleep.
      assert.match(members[0]!.comm, /^(sleep|sh)$/, 'named by its comm');
      assert.equal(await p.leftGroupRunning(), true, 'the grandchild was still running when the grace ended');
      await waitFor(() => !alive(grandchild), { timeoutMs: FIXTURE_TIMEOUT_MS, what: `the grandchild ${grandchild} to be killed with its group` });
    });
  }
});

test('a group member that ends on its own a moment after its leader is not reported left running, and is not killed', async (t) => {
  const dir = tempDir(t, 'kedge-proc-group-');
  const fifo = join(dir, 'go');
  execFileSync('mkfifo', [fifo]);
  // The member blocks opening the fifo until the test writes to it: it outlives the leader for
  // as long as the test wants, then ends by itself, as tsx's esbuild service does once its
  // parent's pipe has closed.
  const script = '(read line < "$0"; echo "member read $line") & echo "member $!"';
  const p = await startProcess('/bin/sh', ['-c', script, fifo], { name: 'launcher that exits first', group: true });
  t.after(() => p.stop());
  const seen = await waitFor(() => /member (\d+)/.exec(p.output()), { timeoutMs: FIXTURE_TIMEOUT_MS, what: 'the launcher to start its member' });
  const member = Number(seen[1]);
  assert.deepEqual(await p.exitedWithin(FIXTURE_TIMEOUT_MS, 'the end of the launcher'), { code: 0, signal: null });
  const verdict = p.leftGroupRunning();
  assert.equal(alive(member), true, 'the member outlives its leader: the group is in its grace');
  // Though it ends within the grace, it is named as outliving the leader.
  assert.deepEqual(await p.membersAtLeaderExit(), [{ pid: member, comm: 'sh' }]);
  // Opening for writing unblocks the member's open; it reads the line and exits.
  writeFileSync(fifo, 'go\n');
  assert.equal(await verdict, false, 'the member ended within the grace');
  assert.equal(alive(member), false);
  // Its last line: it ended by itself, not by the group's SIGKILL.
  await waitFor(() => p.output().includes('member read go'), { timeoutMs: FIXTURE_TIMEOUT_MS, what: "the member's last line" });
});

test('a group leader that waits for what it started leaves nothing in its group', async () => {
  const p = await startProcess('/bin/sh', ['-c', 'true & wait'], { name: 'launcher that waits', group: true });
  assert.deepEqual(await p.exitedWithin(FIXTURE_TIMEOUT_MS, 'the end of the launcher'), { code: 0, signal: null });
  assert.equal(await p.leftGroupRunning(), false);
  assert.deepEqual(await p.membersAtLeaderExit(), []);
});

test("a group's failed start takes its members with it at once, not after the grace: they may hold its ports", async () => {
  let output = '';
  await assert.rejects(
    startProcess('/bin/sh', ['-c', 'sleep 600 & echo "grandchild $!"; exit 3', 'never ready'], { name: 'launcher that fails to start', group: true, readyLine: /never printed/ }),
    (err: Error) => {
      output = err.message;
      return /exited before ready/.test(err.message);
    },
  );
  const grandchild = Number(/grandchild (\d+)/.exec(output)![1]);
  // Well inside the grace, after which the group's end would SIGKILL it anyway.
  await waitFor(() => !alive(grandchild), { timeoutMs: GROUP_GRACE_MS / 2, what: `the grandchild ${grandchild} to be killed with the failed start` });
});
