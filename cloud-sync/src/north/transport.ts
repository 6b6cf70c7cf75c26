import type { Batch } from '../codec/index.ts';

/**
 * What a transport reports to the sink driving it. A transport reports each link once: `ready`
 * when batches may go, then at most one `down` (or none, when the driver disconnected it).
 */
export interface TransportEvents {
  /** The link is usable (MQTT: CONNACK and births out; HTTP: at once, or after a probe). */
  ready(): void;
  /**
   * The link is gone (connect refused, socket closed, peer unreachable). The driver forgets
   * what was in flight, waits a backoff and calls connect() again; nothing is lost, because
   * the cursor only moved for what was delivered.
   */
  down(reason: string): void;
  /**
   * The far end confirmed everything up to `seq` after a durable commit (the center's
   * kedge-ack/1). Only transports of sinks in 'confirm' mode call it; the cursor then moves
   * on this, not on delivery. `fresh` false: a stored confirmation (an MQTT retained message),
   * proof of what the far end once held, not that it answers now (resend after silence).
   */
  confirmed?(seq: number, fresh?: boolean): void;
  /** The transport may send again after canSend() said no (Sparkplug: births went out). */
  wake?(): void;
  /** A problem the link survived (a client error event): status lastError, nothing else. */
  problem?(message: string): void;
}

/** The result of one send: delivered (PUBACK, 2xx) or failed. */
export type SendResult = { ok: true } | { ok: false; error: string };

/**
 * The small interface beneath a sink's window (north/window.ts): one link at a time to one
 * destination. Stream transports (MQTT) learn delivery from their own acknowledgement;
 * request/response transports (HTTP POST) from the status of each response. Batching, the
 * in-flight window, pacing, live-first, the cursor and reconnect backoff are the driver's
 * (north/transport-sink.ts), so a transport does not retry on its own.
 */
export interface SinkTransport {
  /** Names the sink in log lines and status ('http uplink'). */
  readonly label: string;
  /** Where it sends to, credentials removed (status pages, logs). */
  readonly target: string;
  /** One connection attempt; reports through `events`. Never called while a link is open. */
  connect(events: TransportEvents): void;
  /**
   * Sends one batch (the transport encodes it with its codec) on the open link. `done` is
   * called exactly once. Several sends may be outstanding (the window's `inflight`); they may
   * complete in any order. Returns the bytes put on the wire (status: extra bytes of live-first).
   */
  send(batch: Batch, done: (result: SendResult) => void): number;
  /**
   * False holds batches back on an open link (Sparkplug: until this session's births are out);
   * the transport calls events.wake() when it may send.
   */
  canSend?(): boolean;
  /** Extra fields of the driver's "connected" log line. */
  connectedInfo?(): object;
  /**
   * Asked at each ready: how many batches this link takes in flight (MQTT 5: the broker's
   * Receive Maximum from CONNACK), or null/absent for no limit of its own. The window keeps
   * min(configured inflight, this) batches on the way for the link's life.
   */
  inflightLimit?(): number | null;
  /** Drops the current link now (ack timeout, a failed send): no events of it follow. */
  disconnect(): void;
  /** A clean stop: goodbye where the protocol has one, then close. No events follow. */
  close(): Promise<void>;
}
