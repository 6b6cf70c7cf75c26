/**
 * Uplink timings of the tests (kedge JSON and Sparkplug alike) against a broker on 127.0.0.1:
 * small batches sent at once, several in flight, quick reconnects, so a cut link recovers well
 * inside a test's wait.
 */
export const TEST_UPLINK_TIMING = {
  batchMaxReadings: 50,
  batchMaxDelayMs: 20,
  inflight: 4,
  keepaliveSec: 5,
  reconnectMinMs: 100,
  reconnectMaxMs: 300,
} as const;
