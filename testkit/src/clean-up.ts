/**
 * A test's clean-up as one hook that runs every step. node:test stops a test's `after` hooks at
 * the first that throws, and `await a(); await b();` stops at the first step that throws: a
 * server closed later in either stays open and keeps the file's process alive until the
 * runner's per-file limit, hiding the error that caused it.
 */

/**
 * Runs every step in order, each even when an earlier one threw, then throws: the error itself
 * when one step failed, an AggregateError naming them all when several did. Steps may be
 * undefined (something the test had not started yet).
 */
export async function closeAll(...steps: Array<(() => unknown) | undefined>): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      await step?.();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    const why = errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
    throw new AggregateError(errors, `${errors.length} clean-up steps failed: ${why}`);
  }
}
