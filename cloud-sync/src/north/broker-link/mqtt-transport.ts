import type { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Batch } from '../../codec/index.ts';
import type { SendResult, SinkTransport, TransportEvents } from '../transport.ts';
import { decodeAck, type CenterAck } from '../../center-ack.ts';
import { redactUrl } from '../../redact.ts';
import { brokerReceiveMaximum, limitOutstandingPublishes } from './receive-maximum.ts';

/** One MQTT connection of the transport, handed to the format's hooks. */
export interface Session {
  readonly client: MqttClient;
  /** False once this connection is over (closed, timed out or stopped): late callbacks must do nothing. */
  live(): boolean;
  /** Asks for the next batches (after births that had to go first). */
  pump(): void;
}

export interface Message {
  topic: string;
  payload: Buffer | string;
  /** Default 1. A QoS 0 batch message counts as delivered only through the format's confirm(). */
  qos?: 0 | 1;
}

/** A message that is published with retain as given, at QoS 1 (Will, goodbye). */
export interface StatusMessage extends Message {
  retain: boolean;
}

/** What one wire format adds to the MQTT transport: its name, Will, births, encoding and goodbye. */
export interface PublisherFormat {
  /** Names the sink in log lines ('uplink', 'sparkplug uplink'). */
  label: string;
  /** The Will of the next connection attempt; called once per attempt, just before it. */
  will(): StatusMessage;
  /** Extra fields of the "connected" log line. */
  connectedInfo?(): object;
  /** The connection is up (CONNACK; the driver reloaded its cursor): births, subscriptions. A pump follows. */
  onOnline(session: Session): void;
  /** `retained`: the broker sent a stored message (a subscription's retained one), not a fresh publish. */
  onMessage?(session: Session, topic: string, payload: Buffer, retained: boolean): void;
  /** False holds batches back (Sparkplug: until this session's births went out); session.pump() wakes the driver. */
  canSend?(): boolean;
  /**
   * The QoS 1 messages carrying the batch (`batch.live`: a live-lane batch, north-api.md); it
   * counts as delivered when all have their PUBACK.
   */
  encode(session: Session, batch: Batch): Message[];
  /**
   * Called once after a batch's messages were handed to the client; the batch also waits for
   * `done` (Sparkplug at QoS 0: a round trip proving the broker processed them).
   */
  confirm?(session: Session, done: (err?: Error) => void): void;
  /** Published (QoS 1) on a clean stop while online. */
  goodbye(): StatusMessage;
}

export interface MqttTransportOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
  keepaliveSec: number;
  /**
   * 4 (MQTT 3.1.1, default) or 5: then every topic gets a topic alias within the broker's Topic
   * Alias Maximum (the data topic's name goes once per connection), and no more QoS 1 publishes
   * wait for their PUBACK than the broker's Receive Maximum (CONNACK) allows.
   */
  protocolVersion?: 4 | 5;
  /** Each connection attempt's client, before its CONNECT goes out (tests watch its packets: 'packetsend', 'packetreceive'). */
  onClient?: ((client: MqttClient) => void) | undefined;
  /** A connect attempt into a blackholed link gives up after this long. */
  connectTimeoutMs: number;
  logger: { warn(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
  /**
   * Center mode: the topic the center's kedge-ack/1 confirmations arrive on, and whose log
   * (gateway, current epoch) they must name; they are reported as TransportEvents.confirmed.
   */
  centerAck?: { topic: string; gateway: string; epoch: () => string };
}

/** How long a clean close waits for the goodbye's PUBACK. */
const GOODBYE_WAIT_MS = 2000;
/**
 * How long a clean close waits, after its DISCONNECT, for the broker to close the link before
 * the socket is destroyed: mqtt.js's graceful end has no limit of its own, and a broker that
 * stays connected but never answers would hold a stop or a reload forever.
 */
export const END_WAIT_MS = 2000;

/**
 * SinkTransport over one MQTT 3.1.1 (or 5: protocolVersion) connection at a time: connect with the format's Will,
 * ready at CONNACK (the format's births follow at once; canSend() holds batches until they
 * are out), a batch = the format's messages at QoS 1, done when all have their PUBACK. In
 * center mode the center's confirmations on its ack topic are the `confirmed` events. It never
 * reconnects or resends by itself: that is the driver's (../transport-sink.ts).
 */
export class MqttTransport implements SinkTransport {
  readonly label: string;
  readonly target: string;
  /** Acknowledgements of data messages received (PUBACKs, or the format's own delivery proof). */
  pubacks = 0;
  private linkGen = 0;
  private session: Session | null = null;
  private connected = false;

  constructor(
    private readonly o: MqttTransportOptions,
    private readonly format: PublisherFormat,
  ) {
    this.label = format.label;
    // Credentials in the URL never reach status pages or logs.
    this.target = redactUrl(o.url);
  }

  /** The client while the link is up (after CONNACK), else null. */
  onlineClient(): MqttClient | null {
    return this.connected && this.session ? this.session.client : null;
  }

  canSend(): boolean {
    return this.format.canSend?.() ?? true;
  }

  connectedInfo(): object {
    const limit = this.inflightLimit();
    return { ...this.format.connectedInfo?.(), protocolVersion: this.protocolVersion, ...(limit !== null ? { receiveMaximum: limit } : {}) };
  }

  /** MQTT 5: the broker's Receive Maximum of this link (its CONNACK), else null. */
  inflightLimit(): number | null {
    const client = this.onlineClient();
    return client ? brokerReceiveMaximum(client) : null;
  }

  private get protocolVersion(): 4 | 5 {
    return this.o.protocolVersion ?? 4;
  }

  connect(events: TransportEvents): void {
    const gen = ++this.linkGen;
    this.connected = false;
    const will = this.format.will();
    const opts: IClientOptions = {
      clientId: this.o.clientId,
      clean: true,
      protocolVersion: this.protocolVersion,
      // MQTT 5: the first publish on a topic carries its name and an alias, later ones the alias
      // only (mqtt.js keeps at most the broker's Topic Alias Maximum, least recently used out).
      ...(this.protocolVersion === 5 ? { autoAssignTopicAlias: true } : {}),
      keepalive: this.o.keepaliveSec,
      reconnectPeriod: 0, // reconnects are the driver's: jittered, and always restart from the cursor
      connectTimeout: this.o.connectTimeoutMs,
      queueQoSZero: false,
      // Otherwise mqtt-packet pre-builds 65,536 two-byte Buffers (~6 MB of heap) for packet ids.
      writeCache: false,
      username: this.o.username,
      password: this.o.password,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: will.retain },
      ...(this.o.tls ?? {}),
    };
    const client = mqtt.connect(this.o.url, opts);
    ownListeners.set(client, listenersOf(client));
    // Every QoS 1 publish of the client (batches, births, goodbye) waits for a free slot of the broker's Receive Maximum.
    limitOutstandingPublishes(client, () => brokerReceiveMaximum(client));
    this.o.onClient?.(client);
    const session: Session = {
      client,
      live: () => gen === this.linkGen,
      pump: () => {
        if (session.live()) events.wake?.();
      },
    };
    this.session = session;
    let linkError: string | null = null;
    client.on('connect', () => {
      if (!session.live()) return;
      this.connected = true;
      events.ready();
      const ack = this.o.centerAck;
      if (ack) {
        client.subscribe(ack.topic, { qos: 1 }, (err) => {
          if (err && session.live()) this.o.logger.warn({ err: err.message, topic: ack.topic }, 'subscribing to center confirmations failed');
        });
      }
      this.format.onOnline(session);
    });
    client.on('message', (topic, payload, packet) => {
      if (!session.live()) return;
      const retained = packet.retain === true;
      if (this.o.centerAck && topic === this.o.centerAck.topic) this.onCenterAck(events, payload, retained);
      else this.format.onMessage?.(session, topic, payload, retained);
    });
    client.on('error', (err) => {
      if (!session.live()) return;
      linkError = err.message;
      this.o.logger.warn({ err: err.message, url: this.target }, `${this.label} error`);
      events.problem?.(err.message);
    });
    client.on('close', () => {
      if (!session.live()) return;
      this.drop();
      events.down(linkError ?? 'connection closed');
    });
  }

  /** The center's confirmation of this log (gateway, current epoch); others are ignored. */
  private onCenterAck(events: TransportEvents, payload: Buffer, retained: boolean): void {
    const expect = this.o.centerAck!;
    let ack: CenterAck;
    try {
      ack = decodeAck(payload);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'center confirmation ignored');
      return;
    }
    // The log may have started a new epoch since (it went backwards): its current one is what counts.
    const epoch = expect.epoch();
    if (ack.gateway !== expect.gateway || ack.epoch !== epoch) {
      // A retained confirmation of an earlier log (epoch) of this box, or not ours at all.
      this.o.logger.debug({ gateway: ack.gateway, epoch: ack.epoch, expected: { gateway: expect.gateway, epoch } }, 'center confirmation of another log ignored');
      return;
    }
    events.confirmed?.(ack.confirmed, !retained);
  }

  send(batch: Batch, done: (result: SendResult) => void): number {
    const session = this.session;
    if (!session || !this.connected) {
      done({ ok: false, error: 'not connected' });
      return 0;
    }
    const messages = this.format.encode(session, batch);
    const confirm = this.format.confirm;
    let bytes = 0;
    for (const m of messages) bytes += typeof m.payload === 'string' ? Buffer.byteLength(m.payload) : m.payload.length;
    let waiting = messages.length + (confirm ? 1 : 0);
    // A batch the format had nothing to send for (Sparkplug: readings of a device that is not born) is delivered as is.
    if (waiting === 0) {
      done({ ok: true });
      return 0;
    }
    let finished = false;
    const ack = (err?: Error) => {
      if (finished || !session.live()) return;
      if (err) {
        finished = true;
        // Not from inside mqtt.js's own loop over its outgoing store (a close flushing it): the
        // driver's answer (disconnect) would end the client in the middle of that loop.
        setImmediate(() => done({ ok: false, error: err.message }));
        return;
      }
      this.pubacks++;
      if (--waiting > 0) return;
      finished = true;
      done({ ok: true });
    };
    for (const m of messages) session.client.publish(m.topic, m.payload, { qos: m.qos ?? 1 }, ack);
    confirm?.call(this.format, session, ack);
    return bytes;
  }

  disconnect(): void {
    this.drop();
  }

  /** Ends this link: no callback of it does anything any more. */
  private drop(): void {
    this.linkGen++;
    this.connected = false;
    const client = this.session?.client;
    this.session = null;
    if (!client) return;
    detach(client);
    client.on('error', () => {}); // a late socket error must not crash the daemon
    client.end(true);
  }

  async close(): Promise<void> {
    const client = this.session?.client;
    const wasOnline = this.connected;
    this.connected = false;
    if (!client) return;
    if (wasOnline) {
      // The link stays live meanwhile: a close during the goodbye ends the client (drop()),
      // which fails the goodbye's callback instead of leaving it waiting for a PUBACK.
      const bye = this.format.goodbye();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, GOODBYE_WAIT_MS);
        client.publish(bye.topic, bye.payload, { qos: 1, retain: bye.retain }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.linkGen++;
    this.session = null;
    await endBounded(client, wasOnline);
    detach(client);
    // mqtt.js may still report a connect attempt that was cut short (connack timeout); with no
    // listener that error would crash the daemon during a stop or reload.
    client.on('error', () => {});
  }
}

type Listener = (...args: unknown[]) => void;

/** Each client's listeners as mqtt.js left them, before this file added any. */
const ownListeners = new WeakMap<MqttClient, Map<string | symbol, Listener[]>>();

function listenersOf(client: MqttClient): Map<string | symbol, Listener[]> {
  return new Map(client.eventNames().map((e) => [e, client.listeners(e) as Listener[]]));
}

/**
 * Takes off every listener but mqtt.js's own. Its 'close' listener clears the CONNACK timer:
 * without it, a client ended while still connecting kept its process alive for connectTimeout
 * (15 s) after everything else had stopped.
 */
function detach(client: MqttClient): void {
  const own = ownListeners.get(client);
  const emitter = client as unknown as EventEmitter;
  for (const [event, listeners] of listenersOf(client)) {
    for (const l of listeners) if (!own?.get(event)?.includes(l)) emitter.removeListener(event, l);
  }
}

/**
 * Ends `client` within END_WAIT_MS whatever its broker does. Forced at once when there is
 * nothing a graceful end could still deliver or when it could only wait: a client still
 * connecting (end() would wait for a connect), or publishes still unacknowledged (the goodbye
 * timed out: end() would wait for PUBACKs a stalled broker never sends, while the keepalive
 * pings it does answer keep the link up). Batches among those stay in the log and go again.
 */
async function endBounded(client: MqttClient, wasOnline: boolean): Promise<void> {
  if (!wasOnline || Object.keys(client.outgoing).length > 0) {
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    return;
  }
  await new Promise<void>((resolve) => {
    // Destroying the socket ends the graceful end (its callback runs on the socket's close).
    const timer = setTimeout(() => client.stream?.destroy(), END_WAIT_MS);
    client.end(false, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
