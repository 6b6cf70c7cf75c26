// Preloaded into a daemon by mem-watch.ts (`node --import mem-probe.mjs ...`): every second it
// prints V8's view of the process's memory (no forced GC, so it changes nothing the daemon
// does), to set beside the kernel's view (/proc/<pid>/status): RSS minus the V8 heap is what
// native code (malloc: SQLite, sockets, libuv, V8's own off-heap tables) holds.
const every = Number(process.env.KEDGE_MEM_PROBE_MS ?? 1000);
setInterval(() => {
  const m = process.memoryUsage();
  process.stderr.write(`MEM-PROBE rss=${m.rss} heapTotal=${m.heapTotal} heapUsed=${m.heapUsed} external=${m.external} arrayBuffers=${m.arrayBuffers}\n`);
}, every).unref();
