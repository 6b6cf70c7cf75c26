// Module hooks registered by mem-breakdown.mjs: reports every ES module URL the daemon resolves
// (the bundle's chunks, node: builtins) to the probe on the main thread. Resolution unchanged.
let port;
export function initialize(data) {
  port = data.port;
}
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  port?.postMessage(r.url);
  return r;
}
