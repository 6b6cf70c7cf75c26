import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WebDeps } from './context.ts';

/**
 * Prometheus metrics of one gateway, in a registry of its own (several apps can live in one
 * test process). Poll figures are observed as polls happen; log and uplink figures are read
 * from the gateway's status at scrape time.
 */
export function createMetrics(gateway: WebDeps['gateway']): { registry: Registry; close: () => void } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kedge_' });

  const pollSeconds = new Histogram({
    name: 'kedge_poll_duration_seconds',
    help: 'Duration of one device poll (all due points, coalesced requests)',
    labelNames: ['device'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const pollErrors = new Counter({
    name: 'kedge_poll_errors_total',
    help: 'Polls that failed (timeout, connection, Modbus exception), per device',
    labelNames: ['device'],
    registers: [registry],
  });
  const unsubscribe = gateway.onPoll((device, result, durationMs) => {
    pollSeconds.observe({ device }, durationMs / 1000);
    if (result.failed) pollErrors.inc({ device });
    // Exposes the series at 0 for devices that never failed, so rate() works from the start.
    else pollErrors.inc({ device }, 0);
  });

  const status = () => gateway.status();
  const gauge = (name: string, help: string, read: (s: ReturnType<typeof status>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(status()));
      },
    });
  gauge('kedge_log_readings', 'Readings held in the local log', (s) => s.log.rows);
  gauge('kedge_log_unsent_readings', 'Readings not yet acknowledged by the broker', (s) => s.log.unacked);
  gauge('kedge_log_bytes', 'Bytes of live data in the log (the figure log.maxBytes caps)', (s) => s.log.usedBytes);
  gauge('kedge_log_file_bytes', 'Size of the log database file plus its WAL', (s) => s.log.fileBytes);
  gauge('kedge_log_oldest_unsent_age_seconds', 'Age of the oldest reading not yet acknowledged; 0 when all are sent', (s) =>
    s.log.oldestUnackedTs === null ? 0 : Math.max(0, (Date.now() - s.log.oldestUnackedTs) / 1000),
  );
  gauge('kedge_uplink_connected', '1 while the uplink is connected to the broker', (s) => (s.uplink?.state === 'online' ? 1 : 0));

  // Counters that mirror totals kept elsewhere: increment by the difference at scrape time. A
  // rebuilt uplink restarts its own totals at 0, which is not a decrease of ours.
  const mirror = (name: string, help: string, read: (s: ReturnType<typeof status>) => number) => {
    let seen = 0;
    return new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = read(status());
        if (now < seen) seen = 0;
        this.inc(now - seen);
        seen = now;
      },
    });
  };
  mirror('kedge_log_evicted_readings_total', 'Unsent readings dropped by the log size cap', (s) => s.log.evictedTotal);
  mirror('kedge_uplink_readings_acked_total', 'Readings acknowledged by the broker (throughput: rate() of this)', (s) => s.uplink?.readingsAcked ?? 0);
  mirror('kedge_uplink_batches_acked_total', 'Batches acknowledged by the broker', (s) => s.uplink?.batchesAcked ?? 0);

  return { registry, close: unsubscribe };
}
