// Preloaded into a daemon by the bench (`node --expose-gc --import heap-probe.mjs ...`): on
// SIGUSR2 it collects garbage (twice: weak references and finalizers free more on the second)
// and prints the heap still in use, the daemon's live heap. Changes nothing else in the process.
process.on('SIGUSR2', () => {
  if (typeof globalThis.gc !== 'function') {
    process.stderr.write('HEAP-PROBE needs --expose-gc\n');
    return;
  }
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  process.stderr.write(`HEAP-PROBE heapUsed=${m.heapUsed} external=${m.external} arrayBuffers=${m.arrayBuffers} rss=${m.rss}\n`);
});
