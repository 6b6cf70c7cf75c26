import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StatusQuery } from './context.ts';

/**
 * Prometheus metrics of one gateway, in a registry of its own (several apps can live in one
 * test process). Poll figures are observed as polls happen; log and uplink figures are read
 * from the gateway's status at scrape time.
 */
export function createMetrics(gateway: StatusQuery): { registry: Registry; close: () => void } {
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
  gauge('kedge_log_unsent_readings', 'Readings not yet delivered: confirmed by the center (uplink.ackMode center), or acknowledged by the broker (broker)', (s) => s.log.unacked);
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

  // No silent loss (gateway/src/log, cloud-sync/src/north/window.ts): a disk that refuses
  // writes, and the two positions: the broker's PUBACK (flow control) and the center's confirmation.
  gauge('kedge_log_write_failing', '1 while the log cannot write (disk full, I/O error, read-only); readings wait in memory', (s) => (s.log.write.failing ? 1 : 0));
  gauge('kedge_log_buffered_readings', 'Readings held in memory, not yet committed to the log', (s) => s.log.pending);
  mirror('kedge_log_dropped_readings_total', 'Readings dropped from the full memory buffer while writes failed (reported to the center as evicted)', (s) => s.log.write.dropped);
  gauge('kedge_log_eviction_rows', 'Rows of the eviction record (contiguous evictions are one row)', (s) => s.log.evictionRows);
  gauge('kedge_uplink_broker_acked_seq', 'Highest sequence the broker acknowledged (PUBACK)', (s) => s.uplink?.brokerAckedSeq ?? 0);
  gauge('kedge_uplink_center_confirmed_seq', "Highest sequence the center's ingest confirmed after a durable commit (0 in broker ack mode)", (s) => s.uplink?.centerConfirmedSeq ?? 0);
  mirror('kedge_uplink_resends_total', 'Times the uplink sent again from the center position because no confirmation came', (s) => s.uplink?.resends ?? 0);

  // Every uplink by name (`uplinks:`), label `sink`: one that is down shows while the others deliver.
  const perSink = (name: string, help: string, read: (s: ReturnType<typeof status>) => Array<[string, number]>) =>
    new Gauge({
      name,
      help,
      labelNames: ['sink'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [sink, v] of read(status())) this.set({ sink }, v);
      },
    });
  const sinksOf = (s: ReturnType<typeof status>) => s.uplinks ?? [];
  perSink('kedge_sink_connected', '1 while the uplink is connected (MQTT) or its endpoint answers (HTTP)', (s) => sinksOf(s).map((u) => [u.name, u.status.state === 'online' ? 1 : 0]));
  perSink('kedge_sink_acked_seq', "Highest sequence the uplink had acknowledged (its log cursor)", (s) => sinksOf(s).map((u) => [u.name, u.status.ackedSeq]));
  perSink('kedge_sink_unsent_readings', 'Readings the log holds for the uplink (after its cursor)', (s) => (s.log.sinks ?? []).map((c) => [c.name, c.unacked]));
  const sinkMirror = (name: string, help: string, read: (s: ReturnType<typeof status>) => Array<[string, number]>) => {
    const seen = new Map<string, number>();
    return new Counter({
      name,
      help,
      labelNames: ['sink'],
      registers: [registry],
      collect() {
        for (const [sink, now] of read(status())) {
          const before = seen.get(sink) ?? 0;
          // A rebuilt uplink restarts its own totals at 0: not a decrease of ours.
          this.inc({ sink }, now < before ? now : now - before);
          seen.set(sink, now);
        }
      },
    });
  };
  sinkMirror('kedge_sink_readings_acked_total', 'Readings the uplink delivered (PUBACK, 2xx); throughput: rate() of this', (s) => sinksOf(s).map((u) => [u.name, u.status.readingsAcked]));
  sinkMirror('kedge_sink_evicted_readings_total', 'Readings the uplink never delivered because the log size cap (or a full disk) evicted them first', (s) => sinksOf(s).map((u) => [u.name, u.evicted]));

  // The wall clock (cloud-sync/src/clock.ts): alert on kedge_clock_wrong; jumps stay counted after it is right again.
  gauge('kedge_clock_wrong', '1 while the wall clock is known to be wrong (readings are marked uncertain_clock)', (s) => (s.clock.state === 'wrong' ? 1 : 0));
  gauge('kedge_clock_offset_seconds', 'Wall clock minus what a trusted clock would read; 0 while trusted, negative when behind', (s) => s.clock.offsetMs / 1000);
  gauge('kedge_clock_last_jump_seconds', 'Signed size of the last wall clock jump noticed; 0 when none', (s) => (s.clock.lastJump?.deltaMs ?? 0) / 1000);
  const jumpsSeen = { forward: 0, back: 0 };
  new Counter({
    name: 'kedge_clock_jumps_total',
    help: 'Wall clock jumps noticed (steps beyond the threshold against the monotonic clock), by direction',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      const jumps = status().clock.jumps;
      for (const dir of ['forward', 'back'] as const) {
        this.inc({ direction: dir }, Math.max(0, jumps[dir] - jumpsSeen[dir]));
        jumpsSeen[dir] = Math.max(jumpsSeen[dir], jumps[dir]);
      }
    },
  });

  return { registry, close: unsubscribe };
}
