/**
 * Property-test run counts. `npm test` keeps them small; `npm run fuzz` multiplies them
 * (KEDGE_FUZZ_SCALE) for a long run of the same properties.
 */
export function runs(n: number): number {
  const scale = Number(process.env.KEDGE_FUZZ_SCALE ?? 1);
  return Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}
